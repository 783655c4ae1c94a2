// My account and my consents: the signed-in person themself (end_user), whatever role the tab acts as.
import { Alert, Button, Card, SimpleGrid, Stack, Table, Text, TextInput } from '@mantine/core';
import { type FormEvent, useEffect, useState } from 'react';
import { gql, useMutation, useQuery } from 'urql';
import { AS_MYSELF, errorField, errorMessage } from '../api.js';
import { ErrorNotice, PageHeader, When } from '../ui.js';

const ME = gql`
  query ConsoleMe {
    me {
      id userName displayName givenName familyName title version
      emails { value }
      phoneNumbers { value }
      tenant { name }
      grants { id clientId relyingPartyName scopes claims createdAt expiresAt }
    }
  }
`;

interface Me {
  id: string;
  userName: string;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  title: string | null;
  version: number;
  emails: { value: string }[];
  phoneNumbers: { value: string }[];
  tenant: { name: string };
  grants: {
    id: string;
    clientId: string;
    relyingPartyName: string;
    scopes: string[];
    claims: string[];
    createdAt: string;
    expiresAt: string | null;
  }[];
}

const UPDATE_ME = gql`
  mutation ConsoleUpdateMe($ifVersion: Int, $input: MeInput!) { updateMe(ifVersion: $ifVersion, input: $input) { id displayName givenName familyName title version phoneNumbers { value } } }
`;

/** The fields of MeInput the page shows, with the policy entries (SCIM paths) that let them change. */
const EDITABLE = [
  ['displayName', 'Display name', ['displayName']],
  ['givenName', 'Given name', ['name', 'name.givenName']],
  ['familyName', 'Family name', ['name', 'name.familyName']],
  ['title', 'Title', ['title']],
  ['phone', 'Phone', ['phoneNumbers']],
] as const;

/** The SCIM path a refusal names (`name.givenName`, `phoneNumbers`), as the page's field. */
function fieldOf(named: string | undefined): string | undefined {
  const path = named?.replace(/^input\./, '');
  return EDITABLE.find(([name, , paths]) => name === path || paths.some((p) => p.toLowerCase() === path?.toLowerCase()))?.[0];
}

const POLICY = gql`
  query ConsoleMyPolicy { mySelfServicePolicy { editableAttributes } }
`;

function useMe() {
  return useQuery<{ me: Me }>({ query: ME, context: AS_MYSELF });
}

function MeForm({ me, editable }: { me: Me; editable: string[] }) {
  const allowed = new Set(editable.map((a) => a.toLowerCase()));
  const mayChange = (paths: readonly string[]) => paths.some((p) => allowed.has(p.toLowerCase()));
  const initial: Record<string, string> = {
    displayName: me.displayName ?? '',
    givenName: me.givenName ?? '',
    familyName: me.familyName ?? '',
    title: me.title ?? '',
    phone: me.phoneNumbers[0]?.value ?? '',
  };
  const [values, setValues] = useState(initial);
  const [saved, setSaved] = useState(false);
  // A newer version (saved here or elsewhere) is what the form shows next; the "Saved" notice stays.
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a new version resets the form
  useEffect(() => setValues(initial), [me.version]);
  const [result, update] = useMutation(UPDATE_ME);
  const field = fieldOf(errorField(result.error));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    const input = Object.fromEntries(Object.entries(values).filter(([k, v]) => v !== initial[k]));
    const done = await update({ ifVersion: me.version, input }, AS_MYSELF);
    if (done.data) setSaved(true);
  };
  return (
    <form onSubmit={submit} aria-label="My details">
      <Stack>
        {result.error && !field && (
          <Alert color="red" role="alert" title="Not saved">
            {errorMessage(result.error)}
          </Alert>
        )}
        {saved && (
          <Alert color="green" role="status">
            Saved.
          </Alert>
        )}
        <Text size="sm" c="dimmed">
          {editable.length > 0
            ? `Your office lets you change: ${editable.join(', ')}. The other fields are shown as they are.`
            : 'Your office’s self-service policy lets you change nothing here: ask your office admin.'}
        </Text>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          {EDITABLE.map(([name, label, paths]) => (
            <TextInput
              key={name}
              label={label}
              readOnly={!mayChange(paths)}
              description={mayChange(paths) ? undefined : 'Not yours to change (self-service policy)'}
              value={values[name]}
              error={field === name ? errorMessage(result.error) : undefined}
              onChange={(e) => setValues({ ...values, [name]: e.currentTarget.value })}
            />
          ))}
        </SimpleGrid>
        {EDITABLE.some(([, , paths]) => mayChange(paths)) && (
          <Button type="submit" loading={result.fetching} w="fit-content">
            Save
          </Button>
        )}
      </Stack>
    </form>
  );
}

export function MyAccountPage() {
  const [{ data, error }] = useMe();
  const [policy] = useQuery<{ mySelfServicePolicy: { editableAttributes: string[] } }>({ query: POLICY, context: AS_MYSELF });
  const me = data?.me;
  return (
    <>
      <PageHeader title="My account" description={me ? `${me.userName} in ${me.tenant.name}` : undefined} />
      <ErrorNotice error={error ?? policy.error} />
      {me && policy.data && (
        <Card withBorder>
          <Text mb="md">Email: {me.emails.map((e) => e.value).join(', ') || 'none'}</Text>
          <MeForm me={me} editable={policy.data.mySelfServicePolicy.editableAttributes} />
        </Card>
      )}
    </>
  );
}

const REVOKE = gql`mutation ConsoleRevokeMyGrant($id: ID!) { revokeMyGrant(id: $id) }`;

export function MyConsentsPage() {
  const [{ data, error }, refresh] = useMe();
  const [result, revoke] = useMutation(REVOKE);
  const grants = data?.me.grants ?? [];
  return (
    <>
      <PageHeader title="My consents" description="Applications you allowed to sign you in and what they may read about you." />
      <ErrorNotice error={error ?? result.error} />
      {data && grants.length === 0 && <Text>You have given no application your consent.</Text>}
      {grants.length > 0 && (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Application</Table.Th>
              <Table.Th>What it may read</Table.Th>
              <Table.Th>Since</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th>Revoke</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {grants.map((g) => (
              <Table.Tr key={g.id}>
                <Table.Td>{g.relyingPartyName}</Table.Td>
                <Table.Td>{[...g.scopes, ...g.claims].join(', ')}</Table.Td>
                <Table.Td>
                  <When at={g.createdAt} />
                </Table.Td>
                <Table.Td>
                  <When at={g.expiresAt} />
                </Table.Td>
                <Table.Td>
                  <Button
                    size="compact-sm"
                    color="red"
                    onClick={async () => {
                      const done = await revoke({ id: g.id }, AS_MYSELF);
                      if (done.data) refresh({ requestPolicy: 'network-only' });
                    }}
                  >
                    Revoke {g.relyingPartyName}
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </>
  );
}
