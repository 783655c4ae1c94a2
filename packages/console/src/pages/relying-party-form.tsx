// The form that registers or changes a relying party (createRelyingParty,
// updateRelyingParty). Its claims are chosen among those Meridian can release
// (packages/core/src/sso/claims.ts, in the consent page's order).
import { Button, Checkbox, Group, NativeSelect, NumberInput, SimpleGrid, Stack, Textarea, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { gql, useMutation } from 'urql';
import { errorAt, FormRefusal, lines, refusal } from '../forms.js';

/** The claims a relying party may receive, with what the consent page calls them. */
const CLAIMS: readonly [string, string][] = [
  ['preferred_username', 'User name'],
  ['name', 'Full name'],
  ['given_name', 'First name'],
  ['family_name', 'Last name'],
  ['email', 'Email address'],
  ['phone_number', 'Phone number'],
  ['title', 'Job title'],
  ['department', 'Department'],
  ['organization', 'Organisation'],
  ['division', 'Division'],
  ['cost_center', 'Cost centre'],
  ['employee_number', 'Employee number'],
  ['office', 'Office signed in with'],
];

/** A registration as the form needs it. */
export interface EditedParty {
  clientId: string;
  name: string;
  clientType: string;
  consent: string;
  claims: string[];
  optionalClaims: string[];
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | null;
  subjectType: string;
  maxCacheSeconds: number;
  clientCredentials: boolean;
}

type Field =
  | 'name'
  | 'redirectUris'
  | 'postLogoutRedirectUris'
  | 'backchannelLogoutUri'
  | 'claims'
  | 'optionalClaims'
  | 'maxCacheSeconds'
  | 'consent'
  | 'subjectType'
  | 'clientType'
  | 'clientCredentials';

const PATHS: Record<string, Field> = Object.fromEntries(
  (
    [
      'name',
      'redirectUris',
      'postLogoutRedirectUris',
      'backchannelLogoutUri',
      'claims',
      'optionalClaims',
      'maxCacheSeconds',
      'consent',
      'subjectType',
      'clientType',
      'clientCredentials',
    ] as const
  ).map((f) => [f, f]),
);

/** The fields of a registration every query and mutation of the page reads. */
export const PARTY_FIELDS = `id clientId name clientType consent claims optionalClaims redirectUris postLogoutRedirectUris backchannelLogoutUri
  subjectType maxCacheSeconds clientCredentials createdAt`;

const CREATE = gql`
  mutation ConsoleCreateRelyingParty($input: RelyingPartyInput!) {
    createRelyingParty(input: $input) { clientSecret relyingParty { ${PARTY_FIELDS} } }
  }
`;
const UPDATE = gql`
  mutation ConsoleUpdateRelyingParty($community: String!, $clientId: String!, $changes: RelyingPartyChanges!) {
    updateRelyingParty(community: $community, clientId: $clientId, changes: $changes) { ${PARTY_FIELDS} }
  }
`;

/** What a registration answers: the party, and its client secret (null for a public client). */
export interface Registered {
  clientId: string;
  name: string;
  clientSecret: string | null;
}

/**
 * Registers a relying party (no `party`) or changes one. `onSaved` gets the
 * registration; a new confidential client's secret is in it this once.
 */
export function RelyingPartyForm({
  community,
  party,
  onSaved,
}: {
  community: string;
  party?: EditedParty;
  onSaved: (registered: Registered) => void;
}) {
  const editing = party !== undefined;
  const [name, setName] = useState(party?.name ?? '');
  const [redirectUris, setRedirectUris] = useState((party?.redirectUris ?? []).join('\n'));
  const [postLogout, setPostLogout] = useState((party?.postLogoutRedirectUris ?? []).join('\n'));
  const [backchannel, setBackchannel] = useState(party?.backchannelLogoutUri ?? '');
  const [claims, setClaims] = useState<string[]>(party?.claims ?? ['preferred_username', 'name', 'email']);
  const [optional, setOptional] = useState<string[]>(party?.optionalClaims ?? []);
  const [maxCache, setMaxCache] = useState<number | string>(party?.maxCacheSeconds ?? 86_400);
  const [consent, setConsent] = useState(party?.consent ?? 'required');
  const [subjectType, setSubjectType] = useState(party?.subjectType ?? 'public');
  const [isPublic, setPublic] = useState(party?.clientType === 'public');
  const [clientCredentials, setClientCredentials] = useState(party?.clientCredentials ?? false);
  const [created, create] = useMutation<{ createRelyingParty: { clientSecret: string | null; relyingParty: EditedParty } }>(CREATE);
  const [updated, update] = useMutation<{ updateRelyingParty: EditedParty }>(UPDATE);
  const result = editing ? updated : created;
  const found = refusal(result.error, PATHS);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const values = {
      name: name.trim(),
      redirectUris: lines(redirectUris),
      postLogoutRedirectUris: lines(postLogout),
      backchannelLogoutUri: backchannel.trim() || null,
      claims,
      optionalClaims: optional.filter((c) => claims.includes(c)),
      maxCacheSeconds: maxCache === '' ? null : Number(maxCache),
      consent,
      subjectType,
      clientCredentials: isPublic ? false : clientCredentials,
    };
    if (editing) {
      const done = await update({ community, clientId: party.clientId, changes: values });
      const saved = done.data?.updateRelyingParty;
      if (saved) onSaved({ clientId: saved.clientId, name: saved.name, clientSecret: null });
    } else {
      const done = await create({ input: { ...values, community, clientType: isPublic ? 'public' : 'confidential' } });
      const saved = done.data?.createRelyingParty;
      if (saved) onSaved({ clientId: saved.relyingParty.clientId, name: saved.relyingParty.name, clientSecret: saved.clientSecret });
    }
  };

  return (
    <form onSubmit={submit} noValidate aria-label={editing ? `Change ${party.name}` : 'New relying party'}>
      <Stack>
        <FormRefusal message={found.form} title={editing ? 'Not saved' : 'Not registered'} />
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={errorAt(found, 'name')} />
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <Textarea
            label="Redirect URIs"
            required
            autosize
            minRows={2}
            value={redirectUris}
            onChange={(e) => setRedirectUris(e.currentTarget.value)}
            description="One per line; https (http only on localhost)."
            error={errorAt(found, 'redirectUris')}
          />
          <Textarea
            label="Post-logout redirect URIs"
            autosize
            minRows={2}
            value={postLogout}
            onChange={(e) => setPostLogout(e.currentTarget.value)}
            description="One per line; may be empty."
            error={errorAt(found, 'postLogoutRedirectUris')}
          />
        </SimpleGrid>
        <TextInput
          label="Back-channel logout URI (optional)"
          value={backchannel}
          onChange={(e) => setBackchannel(e.currentTarget.value)}
          error={errorAt(found, 'backchannelLogoutUri')}
        />
        <Checkbox.Group
          label="Claims it may receive"
          value={claims}
          onChange={setClaims}
          error={errorAt(found, 'claims')}
          description="sub is always released."
        >
          <SimpleGrid cols={{ base: 2, sm: 3 }} mt="xs">
            {CLAIMS.map(([claim, label]) => (
              <Checkbox key={claim} value={claim} label={`${label} (${claim})`} />
            ))}
          </SimpleGrid>
        </Checkbox.Group>
        <Checkbox.Group
          label="Optional claims (a person may refuse them)"
          value={optional.filter((c) => claims.includes(c))}
          onChange={setOptional}
          error={errorAt(found, 'optionalClaims')}
        >
          <SimpleGrid cols={{ base: 2, sm: 3 }} mt="xs">
            {CLAIMS.filter(([claim]) => claims.includes(claim)).map(([claim, label]) => (
              <Checkbox key={claim} value={claim} label={`${label} (${claim})`} />
            ))}
          </SimpleGrid>
        </Checkbox.Group>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <NumberInput
            label="Keeps attributes at most (seconds)"
            value={maxCache}
            onChange={setMaxCache}
            min={0}
            error={errorAt(found, 'maxCacheSeconds')}
          />
          <NativeSelect
            label="Consent"
            value={consent}
            onChange={(e) => setConsent(e.currentTarget.value)}
            data={[
              { value: 'required', label: 'Asked of each person' },
              { value: 'implicit', label: 'Implicit (not asked)' },
            ]}
            error={errorAt(found, 'consent')}
          />
          <NativeSelect
            label="Subject identifiers"
            value={subjectType}
            onChange={(e) => setSubjectType(e.currentTarget.value)}
            data={[
              { value: 'public', label: 'Public (same for every application)' },
              { value: 'pairwise', label: 'Pairwise (its own per person)' },
            ]}
            error={errorAt(found, 'subjectType')}
          />
        </SimpleGrid>
        <Group>
          <Checkbox
            label="Public client (PKCE, no secret)"
            checked={isPublic}
            disabled={editing}
            description={editing ? 'Chosen at registration.' : undefined}
            onChange={(e) => setPublic(e.currentTarget.checked)}
            error={errorAt(found, 'clientType')}
          />
          <Checkbox
            label="Client credentials grant"
            checked={clientCredentials && !isPublic}
            disabled={isPublic}
            onChange={(e) => setClientCredentials(e.currentTarget.checked)}
            error={errorAt(found, 'clientCredentials')}
          />
        </Group>
        <Group justify="flex-end">
          <Button type="submit" loading={result.fetching}>
            {editing ? 'Save changes' : 'Register'}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
