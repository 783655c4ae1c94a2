// The form that creates or changes a replication target (createReplicationTarget,
// updateReplicationTarget): its kind's connection settings, its secret, how it
// deletes and which objects it receives. A secret is typed once and never read
// back; left blank on a change, the stored one stays (the mutation merges secrets).
import { Button, Checkbox, Group, NativeSelect, NumberInput, PasswordInput, SimpleGrid, Stack, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { gql, useMutation } from 'urql';
import { errorAt, FormRefusal, refusal } from '../forms.js';

/** A stored target as the form needs it (from the target page's query). */
export interface EditedTarget {
  name: string;
  kind: string;
  deleteMode: string;
  graceSeconds: number | null;
  config: Record<string, unknown>;
  scoping: Record<string, unknown>;
  secretNames: string[];
}

type Field =
  | 'kind'
  | 'name'
  | 'baseUrl'
  | 'token'
  | 'url'
  | 'bindDn'
  | 'baseDn'
  | 'startTls'
  | 'bindPassword'
  | 'deleteMode'
  | 'graceDays'
  | 'userFilter'
  | 'groupFilter';

/** The server's paths (ReplicationTargetInput, the connectors' INVALID_CONFIG fields) to the form's fields. */
const PATHS: Record<string, Field> = {
  kind: 'kind',
  name: 'name',
  'config.baseUrl': 'baseUrl',
  'secrets.token': 'token',
  'config.url': 'url',
  'config.bindDn': 'bindDn',
  'config.baseDn': 'baseDn',
  'config.startTls': 'startTls',
  'secrets.bindPassword': 'bindPassword',
  deleteMode: 'deleteMode',
  graceSeconds: 'graceDays',
  scoping: 'userFilter',
  'scoping.User': 'userFilter',
  'scoping.Group': 'groupFilter',
};

const CREATE = gql`
  mutation ConsoleCreateTarget($tenant: String!, $input: ReplicationTargetInput!) {
    createReplicationTarget(tenant: $tenant, input: $input) { id name }
  }
`;
const UPDATE = gql`
  mutation ConsoleUpdateTarget($tenant: String!, $target: String!, $input: ReplicationTargetInput!) {
    updateReplicationTarget(tenant: $tenant, target: $target, input: $input) { id name kind deleteMode graceSeconds config scoping secretNames updatedAt }
  }
`;

const DAY = 86_400;

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The scoping to save: a typed filter replaces the kind's, an emptied one removes it, others (such as `false`) stay. */
function scopingOf(before: Record<string, unknown>, user: string, group: string): Record<string, unknown> {
  const scoping = { ...before };
  for (const [kind, filter] of [
    ['User', user.trim()],
    ['Group', group.trim()],
  ] as const) {
    if (filter) scoping[kind] = filter;
    else if (typeof scoping[kind] === 'string') delete scoping[kind];
  }
  return scoping;
}

/**
 * Creates a target (no `target`) or changes one. `onSaved` gets the target's
 * name (it may have been renamed).
 */
export function TargetForm({ office, target, onSaved }: { office: string; target?: EditedTarget; onSaved: (name: string) => void }) {
  const editing = target !== undefined;
  const [kind, setKind] = useState(target?.kind ?? 'scim');
  const [name, setName] = useState(target?.name ?? '');
  const [baseUrl, setBaseUrl] = useState(text(target?.config.baseUrl));
  const [url, setUrl] = useState(text(target?.config.url));
  const [bindDn, setBindDn] = useState(text(target?.config.bindDn));
  const [baseDn, setBaseDn] = useState(text(target?.config.baseDn));
  const [startTls, setStartTls] = useState(target?.config.startTls === true);
  const [secret, setSecret] = useState('');
  const [deleteMode, setDeleteMode] = useState(target?.deleteMode ?? 'deactivate');
  const [graceDays, setGraceDays] = useState<number | string>(
    target?.graceSeconds ? Math.max(1, Math.round(target.graceSeconds / DAY)) : 30,
  );
  const [userFilter, setUserFilter] = useState(text(target?.scoping.User));
  const [groupFilter, setGroupFilter] = useState(text(target?.scoping.Group));
  const [created, create] = useMutation<{ createReplicationTarget: { name: string } }>(CREATE);
  const [updated, update] = useMutation<{ updateReplicationTarget: { name: string } }>(UPDATE);
  const result = editing ? updated : created;
  const secretName = kind === 'ldap' ? 'bindPassword' : 'token';
  const found = refusal(result.error, { ...PATHS, secrets: secretName });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    // Settings the form does not show (timeouts, mappings of an LDAP target...) are kept as they are.
    const config: Record<string, unknown> = { ...(editing && target.kind === kind ? target.config : {}) };
    if (kind === 'ldap') Object.assign(config, { url: url.trim(), bindDn: bindDn.trim(), baseDn: baseDn.trim(), startTls });
    else config.baseUrl = baseUrl.trim();
    const input: Record<string, unknown> = {
      name: name.trim(),
      config,
      deleteMode,
      scoping: scopingOf(target?.scoping ?? {}, userFilter, groupFilter),
    };
    if (deleteMode === 'grace') input.graceSeconds = graceDays === '' ? null : Math.round(Number(graceDays) * DAY);
    // A blank secret is not sent: a new target is refused for lacking it, a changed one keeps its stored value.
    if (secret) input.secrets = { [secretName]: secret };
    if (editing) {
      const done = await update({ tenant: office, target: target.name, input });
      if (done.data) onSaved(done.data.updateReplicationTarget.name);
    } else {
      input.kind = kind;
      const done = await create({ tenant: office, input });
      if (done.data) onSaved(done.data.createReplicationTarget.name);
    }
  };
  const keeps = editing && target.secretNames.includes(secretName) ? 'Leave blank to keep the stored one. ' : '';

  return (
    <form onSubmit={submit} noValidate aria-label={editing ? `Change target ${target.name}` : 'New replication target'}>
      <Stack>
        <FormRefusal message={found.form} title={editing ? 'Not saved' : 'Not created'} />
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <NativeSelect
            label="Kind"
            value={kind}
            disabled={editing}
            description={editing ? 'A target keeps its kind.' : undefined}
            onChange={(e) => {
              // A secret belongs to one kind (a SCIM token is no bind password): switching forgets it.
              setKind(e.currentTarget.value);
              setSecret('');
            }}
            data={[
              { value: 'scim', label: 'SCIM 2.0 service' },
              { value: 'ldap', label: 'LDAP directory' },
            ]}
            error={errorAt(found, 'kind')}
          />
          <TextInput
            label="Name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            description="Letters, digits, spaces, dots, dashes or underscores."
            error={errorAt(found, 'name')}
          />
        </SimpleGrid>
        {kind === 'ldap' ? (
          <>
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              <TextInput
                label="LDAP URL"
                required
                value={url}
                onChange={(e) => setUrl(e.currentTarget.value)}
                placeholder="ldaps://ldap.example.org:636"
                error={errorAt(found, 'url')}
              />
              <Checkbox
                mt="xl"
                label="Use StartTLS (ldap:// URLs)"
                checked={startTls}
                onChange={(e) => setStartTls(e.currentTarget.checked)}
                error={errorAt(found, 'startTls')}
              />
              <TextInput
                label="Bind DN"
                required
                value={bindDn}
                onChange={(e) => setBindDn(e.currentTarget.value)}
                placeholder="cn=meridian,dc=example,dc=org"
                error={errorAt(found, 'bindDn')}
              />
              <TextInput
                label="Base DN"
                required
                value={baseDn}
                onChange={(e) => setBaseDn(e.currentTarget.value)}
                placeholder="dc=example,dc=org"
                error={errorAt(found, 'baseDn')}
              />
            </SimpleGrid>
            <PasswordInput
              label="Bind password"
              required={!keeps}
              autoComplete="new-password"
              value={secret}
              onChange={(e) => setSecret(e.currentTarget.value)}
              description={`${keeps}Stored encrypted; no page shows it again.`}
              error={errorAt(found, 'bindPassword')}
            />
          </>
        ) : (
          <>
            <TextInput
              label="Base URL"
              required
              value={baseUrl}
              onChange={(e) => setBaseUrl(e.currentTarget.value)}
              placeholder="https://scim.example.com/scim/v2"
              description="The SCIM service’s base URL, without /Users."
              error={errorAt(found, 'baseUrl')}
            />
            <PasswordInput
              label="Bearer token"
              required={!keeps}
              autoComplete="new-password"
              value={secret}
              onChange={(e) => setSecret(e.currentTarget.value)}
              description={`${keeps}Stored encrypted; no page shows it again.`}
              error={errorAt(found, 'token')}
            />
          </>
        )}
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <NativeSelect
            label="When an account leaves"
            value={deleteMode}
            onChange={(e) => setDeleteMode(e.currentTarget.value)}
            data={[
              { value: 'deactivate', label: 'Deactivate it at the target' },
              { value: 'delete', label: 'Delete it at the target' },
              { value: 'grace', label: 'Deactivate, then delete after a grace period' },
            ]}
            error={errorAt(found, 'deleteMode')}
          />
          {deleteMode === 'grace' && (
            <NumberInput
              label="Grace period (days)"
              value={graceDays}
              onChange={setGraceDays}
              min={1}
              max={3650}
              error={errorAt(found, 'graceDays')}
            />
          )}
        </SimpleGrid>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput
            label="Only accounts matching (optional)"
            value={userFilter}
            onChange={(e) => setUserFilter(e.currentTarget.value)}
            placeholder='department eq "Sales"'
            description="A SCIM filter; empty sends every account."
            error={errorAt(found, 'userFilter')}
          />
          <TextInput
            label="Only groups matching (optional)"
            value={groupFilter}
            onChange={(e) => setGroupFilter(e.currentTarget.value)}
            placeholder='displayName sw "Sales"'
            description="A SCIM filter; empty sends every group."
            error={errorAt(found, 'groupFilter')}
          />
        </SimpleGrid>
        <Group justify="flex-end">
          <Button type="submit" loading={result.fetching}>
            {editing ? 'Save target' : 'Create target'}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
