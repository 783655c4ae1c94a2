// An office's settings: API tokens, SCIM schema extensions, the self-service policy.
import { Alert, Button, Card, Code, Group, NativeSelect, NumberInput, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { gql, useMutation, useQuery } from 'urql';
import { ErrorNotice, NeedsOffice, PageHeader, When } from '../ui.js';
import { useViewer } from '../viewer.js';

const TOKENS = gql`
  query ConsoleTokens($tenant: String!) { tenant(slug: $tenant) { id tokens { id name prefix role scopes createdAt expiresAt lastUsedAt revokedAt } } }
`;
const CREATE_TOKEN = gql`
  mutation ConsoleCreateToken($tenant: String!, $name: String, $role: String, $expiresInDays: Int) {
    createToken(tenant: $tenant, name: $name, role: $role, expiresInDays: $expiresInDays) { token record { id name } }
  }
`;
const REVOKE_TOKEN = gql`mutation ConsoleRevokeToken($id: ID!) { revokeToken(id: $id) { id revokedAt } }`;

interface Token {
  id: string;
  name: string;
  prefix: string;
  role: string | null;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

function Tokens({ office }: { office: string }) {
  const [{ data, error }, refresh] = useQuery<{ tenant: { tokens: Token[] } }>({ query: TOKENS, variables: { tenant: office } });
  const [name, setName] = useState('');
  const [role, setRole] = useState('provisioner');
  const [days, setDays] = useState<number | string>(90);
  const [created, create] = useMutation<{ createToken: { token: string; record: { name: string } } }>(CREATE_TOKEN);
  const [revoked, revoke] = useMutation(REVOKE_TOKEN);
  return (
    <>
      <PageHeader title="Tokens" description="API tokens of this office: for a SCIM client (provisioner), an auditor or a script." />
      <ErrorNotice error={error ?? created.error ?? revoked.error} />
      <Card withBorder mb="md">
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            const done = await create({
              tenant: office,
              name: name.trim() || undefined,
              role,
              expiresInDays: days === '' ? null : Number(days),
            });
            if (done.data) refresh({ requestPolicy: 'network-only' });
          }}
        >
          <Group align="flex-end">
            <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} placeholder="Entra ID provisioning" />
            <NativeSelect
              label="Role"
              value={role}
              onChange={(e) => setRole(e.currentTarget.value)}
              data={['provisioner', 'office_admin', 'auditor', 'end_user']}
            />
            <NumberInput label="Expires in days" value={days} onChange={setDays} min={1} max={3650} w={150} />
            <Button type="submit" loading={created.fetching}>
              Issue token
            </Button>
          </Group>
        </form>
        {created.data && (
          <Alert color="green" mt="md" role="status" title={`Token ${created.data.createToken.record.name} issued`}>
            <Text size="sm">Copy it now: it is shown only once.</Text>
            <Code block aria-label="The new token">
              {created.data.createToken.token}
            </Code>
          </Alert>
        )}
      </Card>
      <Table striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Prefix</Table.Th>
            <Table.Th>Role</Table.Th>
            <Table.Th>Last used</Table.Th>
            <Table.Th>Expires</Table.Th>
            <Table.Th>Revoke</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data?.tenant.tokens.map((t) => (
            <Table.Tr key={t.id}>
              <Table.Td>{t.name}</Table.Td>
              <Table.Td>
                <Code>{t.prefix}</Code>
              </Table.Td>
              <Table.Td>{t.role ?? t.scopes.join(' ')}</Table.Td>
              <Table.Td>
                <When at={t.lastUsedAt} />
              </Table.Td>
              <Table.Td>
                <When at={t.expiresAt} />
              </Table.Td>
              <Table.Td>
                {t.revokedAt ? (
                  <Text size="sm">
                    Revoked <When at={t.revokedAt} />
                  </Text>
                ) : (
                  <Button size="compact-sm" color="red" onClick={() => revoke({ id: t.id })}>
                    Revoke {t.name}
                  </Button>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </>
  );
}

export function TokensPage() {
  return <NeedsOffice>{(office) => <Tokens key={office} office={office} />}</NeedsOffice>;
}

const EXTENSIONS = gql`
  query ConsoleExtensions($tenant: String!) {
    tenant(slug: $tenant) { id schemaExtensions { id name description resourceType attributes { name type multiValued required mutability description } } }
  }
`;
const CREATE_EXTENSION = gql`
  mutation ConsoleCreateExtension($tenant: String!, $extension: SchemaExtensionInput!) { createSchemaExtension(tenant: $tenant, extension: $extension) { id } }
`;
const DELETE_EXTENSION = gql`mutation ConsoleDeleteExtension($tenant: String!, $id: String!) { deleteSchemaExtension(tenant: $tenant, id: $id) }`;

interface Extension {
  id: string;
  name: string;
  description: string;
  resourceType: string;
  attributes: { name: string; type: string; multiValued: boolean; required: boolean; mutability: string; description: string }[];
}

const EXAMPLE_EXTENSION = JSON.stringify(
  {
    id: 'urn:example:params:scim:schemas:extension:badge:2.0:User',
    name: 'Badge',
    resourceType: 'User',
    attributes: [{ name: 'badgeNumber', type: 'string' }],
  },
  null,
  2,
);

function Extensions({ office }: { office: string }) {
  const { can } = useViewer();
  const [{ data, error }, refresh] = useQuery<{ tenant: { schemaExtensions: Extension[] } }>({
    query: EXTENSIONS,
    variables: { tenant: office },
  });
  const [json, setJson] = useState(EXAMPLE_EXTENSION);
  const [invalid, setInvalid] = useState<string>();
  const [created, create] = useMutation(CREATE_EXTENSION);
  const [deleted, remove] = useMutation(DELETE_EXTENSION);
  return (
    <>
      <PageHeader title="Schema extensions" description="SCIM schema extensions (RFC 7643 §3.3) this office’s Users and Groups carry." />
      <ErrorNotice error={error ?? created.error ?? deleted.error} />
      <Stack>
        {data?.tenant.schemaExtensions.length === 0 && <Text>No schema extension.</Text>}
        {data?.tenant.schemaExtensions.map((x) => (
          <Card withBorder key={x.id}>
            <Group justify="space-between">
              <Title order={2} size="h5">
                {x.name} ({x.resourceType})
              </Title>
              {can('settings.write') && (
                <Button
                  size="compact-sm"
                  color="red"
                  onClick={() => remove({ tenant: office, id: x.id }).then(() => refresh({ requestPolicy: 'network-only' }))}
                >
                  Delete {x.name}
                </Button>
              )}
            </Group>
            <Code>{x.id}</Code>
            <Table mt="xs">
              <Table.Tbody>
                {x.attributes.map((a) => (
                  <Table.Tr key={a.name}>
                    <Table.Td>{a.name}</Table.Td>
                    <Table.Td>
                      {a.type}
                      {a.multiValued && ', multi-valued'}
                      {a.required && ', required'}
                    </Table.Td>
                    <Table.Td>{a.description}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Card>
        ))}
        {can('settings.write') && (
          <Card withBorder>
            <form
              onSubmit={async (e) => {
                e.preventDefault();
                setInvalid(undefined);
                let extension: unknown;
                try {
                  extension = JSON.parse(json);
                } catch (cause) {
                  setInvalid(`Not JSON: ${cause instanceof Error ? cause.message : String(cause)}`);
                  return;
                }
                const done = await create({ tenant: office, extension });
                if (done.data) refresh({ requestPolicy: 'network-only' });
              }}
            >
              <Stack>
                <Textarea
                  label="New extension (SchemaExtensionInput as JSON)"
                  autosize
                  minRows={6}
                  value={json}
                  error={invalid}
                  onChange={(e) => setJson(e.currentTarget.value)}
                  styles={{ input: { fontFamily: 'monospace' } }}
                />
                <Button type="submit" w="fit-content" loading={created.fetching}>
                  Add extension
                </Button>
              </Stack>
            </form>
          </Card>
        )}
      </Stack>
    </>
  );
}

export function SchemaExtensionsPage() {
  return <NeedsOffice>{(office) => <Extensions key={office} office={office} />}</NeedsOffice>;
}

const POLICY = gql`query ConsolePolicy($tenant: String!) { tenant(slug: $tenant) { id selfServicePolicy { editableAttributes } } }`;
const SET_POLICY = gql`
  mutation ConsoleSetPolicy($tenant: String!, $editableAttributes: [String!]!) {
    setSelfServicePolicy(tenant: $tenant, editableAttributes: $editableAttributes) { editableAttributes }
  }
`;

function Policy({ office, attributes }: { office: string; attributes: string[] }) {
  const { can } = useViewer();
  const [text, setText] = useState(attributes.join(', '));
  const [result, save] = useMutation<{ setSelfServicePolicy: { editableAttributes: string[] } }>(SET_POLICY);
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void save({ tenant: office, editableAttributes: text.split(/[\s,]+/).filter(Boolean) });
      }}
    >
      <Stack>
        <ErrorNotice error={result.error} title="Not saved" />
        {result.data && (
          <Alert color="green" role="status">
            Saved: people may now change {result.data.setSelfServicePolicy.editableAttributes.join(', ') || 'nothing'}.
          </Alert>
        )}
        <TextInput
          label="Attributes people may change themselves"
          description="SCIM attribute names, separated by commas (for example displayName, nickName, phoneNumbers, locale). Empty: nothing."
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          readOnly={!can('settings.write')}
        />
        {can('settings.write') && (
          <Button type="submit" w="fit-content" loading={result.fetching}>
            Save policy
          </Button>
        )}
      </Stack>
    </form>
  );
}

export function SelfServicePage() {
  return <NeedsOffice>{(office) => <SelfService key={office} office={office} />}</NeedsOffice>;
}

function SelfService({ office }: { office: string }) {
  const [{ data, error }] = useQuery<{ tenant: { selfServicePolicy: { editableAttributes: string[] } } }>({
    query: POLICY,
    variables: { tenant: office },
  });
  return (
    <>
      <PageHeader
        title="Self-service policy"
        description="What people of this office may change on their own account (My account, SCIM /Me)."
      />
      <ErrorNotice error={error} />
      {data && (
        <Card withBorder>
          <Policy office={office} attributes={data.tenant.selfServicePolicy.editableAttributes} />
        </Card>
      )}
    </>
  );
}
