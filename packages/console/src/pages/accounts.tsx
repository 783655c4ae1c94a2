// Accounts of one office: search as you type (a SCIM filter built from the
// text, or typed raw), sort, page; create; and one account's page: edit with
// the server's validation messages, suspend, restore, offboard with a dry run.
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  Modal,
  NativeSelect,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { type FormEvent, useEffect, useState } from 'react';
import { type CombinedError, gql, useMutation, useQuery } from 'urql';
import { Link, useLocation, useParams } from 'wouter';
import { errorField, errorMessage } from '../api.js';
import { OffboardPlan } from '../plan.js';
import { ErrorNotice, NeedsOffice, PageHeader, When } from '../ui.js';
import { useViewer } from '../viewer.js';

const PAGE_SIZE = 25;

/** A SCIM filter (RFC 7644 §3.4.2.2) matching the text in the user name, display name or email. */
function searchFilter(text: string): string | undefined {
  const term = text.trim();
  if (!term) return undefined;
  const quoted = JSON.stringify(term);
  return `userName sw ${quoted} or displayName co ${quoted} or emails.value co ${quoted} or employeeNumber eq ${quoted}`;
}

const ACCOUNTS = gql`
  query ConsoleAccounts($tenant: String!, $scimFilter: String, $sortBy: AccountSortField!, $sortOrder: SortOrder!, $first: Int!, $after: String) {
    accounts(tenant: $tenant, scimFilter: $scimFilter, sortBy: $sortBy, sortOrder: $sortOrder, first: $first, after: $after) {
      totalCount
      pageInfo { endCursor hasNextPage }
      edges { node { id userName displayName department title active } }
    }
  }
`;

interface AccountRow {
  id: string;
  userName: string;
  displayName: string | null;
  department: string | null;
  title: string | null;
  active: boolean;
}

const SORTS = [
  { value: 'USER_NAME', label: 'User name' },
  { value: 'DISPLAY_NAME', label: 'Display name' },
  { value: 'FAMILY_NAME', label: 'Family name' },
  { value: 'DEPARTMENT', label: 'Department' },
  { value: 'EMPLOYEE_NUMBER', label: 'Employee number' },
  { value: 'CREATED', label: 'Created' },
  { value: 'UPDATED', label: 'Updated' },
];

function AccountList({ office }: { office: string }) {
  const { can } = useViewer();
  const [text, setText] = useState('');
  const [raw, setRaw] = useState(false);
  const [sortBy, setSortBy] = useState('USER_NAME');
  const [sortOrder, setSortOrder] = useState('ASCENDING');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [debounced] = useDebouncedValue(text, 250);
  const scimFilter = raw ? debounced.trim() || undefined : searchFilter(debounced);
  const [{ data, error, fetching }] = useQuery<{
    accounts: { totalCount: number; pageInfo: { endCursor: string | null; hasNextPage: boolean }; edges: { node: AccountRow }[] };
  }>({
    query: ACCOUNTS,
    variables: { tenant: office, scimFilter, sortBy, sortOrder, first: PAGE_SIZE, after: cursors.at(-1) },
  });
  const reset = () => setCursors([null]);
  const [creating, setCreating] = useState(false);
  const page = cursors.length;
  return (
    <>
      <PageHeader
        title="Accounts"
        description="Search by user name, display name, email or employee number, or type a SCIM filter."
        actions={can('hr.write') && <Button onClick={() => setCreating(true)}>New account</Button>}
      />
      <Group align="flex-end" mb="md" wrap="wrap">
        <TextInput
          label={raw ? 'SCIM filter' : 'Search'}
          placeholder={raw ? 'department eq "Sales" and active eq true' : 'Name, user name, email…'}
          value={text}
          onChange={(e) => {
            setText(e.currentTarget.value);
            reset();
          }}
          w={380}
          type="search"
        />
        <Switch
          label="Raw SCIM filter"
          checked={raw}
          onChange={(e) => {
            setRaw(e.currentTarget.checked);
            reset();
          }}
          mb={6}
        />
        <NativeSelect
          label="Sort by"
          data={SORTS}
          value={sortBy}
          onChange={(e) => {
            setSortBy(e.currentTarget.value);
            reset();
          }}
        />
        <NativeSelect
          label="Order"
          data={[
            { value: 'ASCENDING', label: 'Ascending' },
            { value: 'DESCENDING', label: 'Descending' },
          ]}
          value={sortOrder}
          onChange={(e) => {
            setSortOrder(e.currentTarget.value);
            reset();
          }}
        />
      </Group>
      <ErrorNotice error={error} title="The search failed" />
      <Table striped highlightOnHover aria-busy={fetching}>
        <Table.Caption>
          {data ? `${data.accounts.totalCount} accounts${data.accounts.totalCount > PAGE_SIZE ? `, page ${page}` : ''}` : 'Loading…'}
        </Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>User name</Table.Th>
            <Table.Th>Display name</Table.Th>
            <Table.Th>Department</Table.Th>
            <Table.Th>Title</Table.Th>
            <Table.Th>Status</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data?.accounts.edges.map(({ node }) => (
            <Table.Tr key={node.id}>
              <Table.Td>
                <Anchor component={Link} href={`/accounts/${node.id}`}>
                  {node.userName}
                </Anchor>
              </Table.Td>
              <Table.Td>{node.displayName}</Table.Td>
              <Table.Td>{node.department}</Table.Td>
              <Table.Td>{node.title}</Table.Td>
              <Table.Td>{node.active ? <Badge color="green">Active</Badge> : <Badge color="gray">Suspended</Badge>}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group mt="md">
        <Button variant="default" disabled={page === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </Button>
        <Button
          variant="default"
          disabled={!data?.accounts.pageInfo.hasNextPage}
          onClick={() => setCursors([...cursors, data?.accounts.pageInfo.endCursor ?? null])}
        >
          Next page
        </Button>
      </Group>
      <Modal
        opened={creating}
        onClose={() => setCreating(false)}
        title="New account"
        size="lg"
        closeButtonProps={{ 'aria-label': 'Close' }}
      >
        <CreateAccount office={office} />
      </Modal>
    </>
  );
}

export function AccountsPage() {
  return <NeedsOffice>{(office) => <AccountList key={office} office={office} />}</NeedsOffice>;
}

/** The fields the console edits, with their labels; the server validates every one. */
const FIELDS = [
  ['userName', 'User name'],
  ['displayName', 'Display name'],
  ['givenName', 'Given name'],
  ['familyName', 'Family name'],
  ['emails', 'Email'],
  ['phone', 'Phone'],
  ['title', 'Title'],
  ['department', 'Department'],
  ['employeeNumber', 'Employee number'],
  ['externalId', 'External id'],
] as const;

type FieldName = (typeof FIELDS)[number][0];
type Values = Record<FieldName, string>;

/** The message of a failed save, at the field it names (`extensions.field`) or over the form. */
function fieldErrors(error: CombinedError | undefined): { field?: string; form?: string } {
  const message = errorMessage(error);
  if (!message) return {};
  const named = errorField(error)
    ?.replace(/^input\./, '')
    .replace(/\[.*$/, '')
    .replace(/\..*$/, '');
  const field = FIELDS.find(([name]) => name === named || (named === 'phoneNumbers' && name === 'phone'))?.[0];
  return field ? { field, form: undefined } : { form: message };
}

/** Only the values the form changed, in the shape of AccountInput / AccountChangeInput. */
function toInput(values: Values, before?: Values): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [name] of FIELDS) {
    const value = values[name].trim();
    if (before && before[name] === values[name]) continue;
    if (name === 'emails') input.emails = value ? value.split(/[\s,]+/).filter(Boolean) : [];
    else input[name] = value || (before ? null : undefined);
  }
  return input;
}

function AccountFields({ values, onChange, error }: { values: Values; onChange: (v: Values) => void; error: CombinedError | undefined }) {
  const { field } = fieldErrors(error);
  return (
    <SimpleGrid cols={{ base: 1, sm: 2 }}>
      {FIELDS.map(([name, label]) => (
        <TextInput
          key={name}
          name={name}
          label={label}
          required={name === 'userName'}
          value={values[name]}
          error={field === name ? errorMessage(error) : undefined}
          onChange={(e) => onChange({ ...values, [name]: e.currentTarget.value })}
          description={name === 'emails' ? 'Separate several with commas; the first is the primary.' : undefined}
        />
      ))}
    </SimpleGrid>
  );
}

const EMPTY: Values = Object.fromEntries(FIELDS.map(([name]) => [name, ''])) as Values;

const CREATE = gql`
  mutation ConsoleCreateAccount($tenant: String!, $input: AccountInput!) {
    createAccount(tenant: $tenant, input: $input) { id userName }
  }
`;

function CreateAccount({ office }: { office: string }) {
  const [values, setValues] = useState(EMPTY);
  const [result, create] = useMutation<{ createAccount: { id: string } }>(CREATE);
  const [, navigate] = useLocation();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const done = await create({ tenant: office, input: toInput(values) });
    if (done.data) navigate(`/accounts/${done.data.createAccount.id}`);
  };
  const { form } = fieldErrors(result.error);
  return (
    <form onSubmit={submit} noValidate>
      <Stack>
        {form && (
          <Alert color="red" role="alert" title="Not created">
            {form}
          </Alert>
        )}
        <AccountFields values={values} onChange={setValues} error={result.error} />
        <Group justify="flex-end">
          <Button type="submit" loading={result.fetching}>
            Create account
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

const ACCOUNT = gql`
  query ConsoleAccount($tenant: String!, $id: ID!) {
    account(tenant: $tenant, id: $id) {
      id userName displayName givenName familyName title department employeeNumber externalId active version createdAt updatedAt
      emails { value primary }
      phoneNumbers { value }
      manager { id userName displayName }
      groups { id displayName }
    }
  }
`;

const STATUS = gql`
  query ConsoleAccountReplication($tenant: String!, $id: ID!) {
    account(tenant: $tenant, id: $id) {
      id
      replicationStatus { targetId target status lastError pushedVersion wantedVersion updatedAt }
    }
  }
`;

interface AccountDetail {
  id: string;
  userName: string;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  title: string | null;
  department: string | null;
  employeeNumber: string | null;
  externalId: string | null;
  active: boolean;
  version: number;
  createdAt: string;
  updatedAt: string;
  emails: { value: string; primary: boolean | null }[];
  phoneNumbers: { value: string }[];
  manager: { id: string; userName: string; displayName: string | null } | null;
  groups: { id: string; displayName: string }[];
}

function valuesOf(account: AccountDetail): Values {
  return {
    userName: account.userName,
    displayName: account.displayName ?? '',
    givenName: account.givenName ?? '',
    familyName: account.familyName ?? '',
    emails: account.emails.map((e) => e.value).join(', '),
    phone: account.phoneNumbers[0]?.value ?? '',
    title: account.title ?? '',
    department: account.department ?? '',
    employeeNumber: account.employeeNumber ?? '',
    externalId: account.externalId ?? '',
  };
}

const UPDATE = gql`
  mutation ConsoleUpdateAccount($tenant: String!, $id: ID!, $ifVersion: Int, $input: AccountChangeInput!) {
    updateAccount(tenant: $tenant, id: $id, ifVersion: $ifVersion, input: $input) {
      id userName displayName givenName familyName title department employeeNumber externalId active version updatedAt
      emails { value primary }
      phoneNumbers { value }
    }
  }
`;
const SUSPEND = gql`
  mutation ConsoleSuspend($tenant: String!, $id: ID!) { suspendAccount(tenant: $tenant, id: $id) { id active version } }
`;
const RESTORE = gql`
  mutation ConsoleRestore($tenant: String!, $id: ID!) { restoreAccount(tenant: $tenant, id: $id) { id active version } }
`;

function EditAccount({ office, account }: { office: string; account: AccountDetail }) {
  const { can } = useViewer();
  const [values, setValues] = useState(() => valuesOf(account));
  const [saved, setSaved] = useState(false);
  // A newer version (saved here, suspended, restored) is what the form shows next.
  // biome-ignore lint/correctness/useExhaustiveDependencies: only a new version resets the form
  useEffect(() => setValues(valuesOf(account)), [account.version]);
  const [result, update] = useMutation(UPDATE);
  const [suspendResult, suspend] = useMutation(SUSPEND);
  const [restoreResult, restore] = useMutation(RESTORE);
  const editable = can('hr.write');
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    const input = toInput(values, valuesOf(account));
    const done = await update({ tenant: office, id: account.id, ifVersion: account.version, input });
    if (done.data) setSaved(true);
  };
  const { form } = fieldErrors(result.error);
  return (
    <Card withBorder>
      <form onSubmit={submit} noValidate aria-label="Account details">
        <Stack>
          <Group justify="space-between">
            <Title order={2} size="h4">
              Details
            </Title>
            {account.active ? <Badge color="green">Active</Badge> : <Badge color="gray">Suspended</Badge>}
          </Group>
          {form && (
            <Alert color="red" role="alert" title="Not saved">
              {form}
            </Alert>
          )}
          {saved && (
            <Alert color="green" role="status" title="Saved">
              The account was updated (version {account.version}).
            </Alert>
          )}
          <fieldset disabled={!editable} style={{ border: 0, padding: 0, margin: 0 }}>
            <AccountFields values={values} onChange={setValues} error={result.error} />
          </fieldset>
          {editable && (
            <Group justify="space-between">
              <Group>
                {account.active ? (
                  <Button color="orange" loading={suspendResult.fetching} onClick={() => suspend({ tenant: office, id: account.id })}>
                    Suspend
                  </Button>
                ) : (
                  <Button color="green" loading={restoreResult.fetching} onClick={() => restore({ tenant: office, id: account.id })}>
                    Restore
                  </Button>
                )}
              </Group>
              <Button type="submit" loading={result.fetching}>
                Save changes
              </Button>
            </Group>
          )}
          <ErrorNotice error={suspendResult.error ?? restoreResult.error} />
        </Stack>
      </form>
    </Card>
  );
}

const OFFBOARD = gql`
  mutation ConsoleOffboard($tenant: ID!, $input: OffboardAccountInput!) {
    offboardAccount(tenant: $tenant, input: $input) { dryRun plan offboarding { id status runAt deleteAt } }
  }
`;

function Offboard({ office, account }: { office: string; account: AccountDetail }) {
  const [successor, setSuccessor] = useState('');
  const [preview, setPreview] = useState<unknown>();
  const [result, offboard] = useMutation<{
    offboardAccount: { dryRun: boolean; plan: unknown; offboarding: { status: string; runAt: string } | null };
  }>(OFFBOARD);
  const run = async (dryRun: boolean) => {
    const done = await offboard({ tenant: office, input: { user: account.id, successor: successor.trim(), dryRun } });
    if (done.data?.offboardAccount.dryRun) setPreview(done.data.offboardAccount.plan);
  };
  const scheduled = result.data && !result.data.offboardAccount.dryRun ? result.data.offboardAccount.offboarding : null;
  return (
    <Card withBorder>
      <Stack>
        <Title order={2} size="h4">
          Offboard
        </Title>
        <Text size="sm">
          Hands the leaver’s groups and ownerships to a successor, then deactivates the account. Preview what would happen before doing it.
        </Text>
        <TextInput label="Successor (user name or id)" value={successor} onChange={(e) => setSuccessor(e.currentTarget.value)} />
        <Group>
          <Button variant="default" disabled={!successor.trim()} loading={result.fetching} onClick={() => void run(true)}>
            Preview (dry run)
          </Button>
          <Button color="red" disabled={!successor.trim() || preview === undefined} onClick={() => void run(false)}>
            Offboard
          </Button>
        </Group>
        <ErrorNotice error={result.error} title="Offboarding refused" />
        {preview !== undefined && !scheduled && <OffboardPlan plan={preview} />}
        {scheduled && (
          <Alert color="green" role="status" title="Offboarding scheduled">
            Status {scheduled.status}, runs at <When at={scheduled.runAt} />.
          </Alert>
        )}
      </Stack>
    </Card>
  );
}

function Replication({ office, id }: { office: string; id: string }) {
  const [{ data }] = useQuery<{
    account: {
      replicationStatus: { targetId: string; target: string; status: string; lastError: string | null; updatedAt: string }[];
    } | null;
  }>({ query: STATUS, variables: { tenant: office, id } });
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="sm">
        Replication
      </Title>
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Target</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Last error</Table.Th>
            <Table.Th>Updated</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data?.account?.replicationStatus.map((s) => (
            <Table.Tr key={s.targetId}>
              <Table.Td>{s.target}</Table.Td>
              <Table.Td>{s.status}</Table.Td>
              <Table.Td>{s.lastError}</Table.Td>
              <Table.Td>
                <When at={s.updatedAt} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

function Account({ office, id }: { office: string; id: string }) {
  const { can } = useViewer();
  const [{ data, error }] = useQuery<{ account: AccountDetail | null }>({ query: ACCOUNT, variables: { tenant: office, id } });
  const account = data?.account;
  return (
    <>
      <PageHeader title={account ? (account.displayName ?? account.userName) : 'Account'} description={account?.userName} />
      <Anchor component={Link} href="/accounts" mb="md" display="inline-block">
        ← All accounts
      </Anchor>
      <ErrorNotice error={error} />
      {data && !account && <Alert color="yellow">No such account in this office.</Alert>}
      {account && (
        <Stack>
          <EditAccount office={office} account={account} />
          <Card withBorder>
            <Text size="sm">
              Created <When at={account.createdAt} />, updated <When at={account.updatedAt} />. Groups:{' '}
              {account.groups.map((g) => g.displayName).join(', ') || 'none'}. Manager:{' '}
              {account.manager?.displayName ?? account.manager?.userName ?? 'none'}.
            </Text>
            {can('audit.read') && (
              <Anchor component={Link} href={`/audit?resourceId=${account.id}`}>
                This account in the audit log
              </Anchor>
            )}
          </Card>
          {can('replication.read') && <Replication office={office} id={account.id} />}
          {can('hr.write') && <Offboard office={office} account={account} />}
        </Stack>
      )}
    </>
  );
}

export function AccountPage() {
  const { id } = useParams<{ id: string }>();
  return <NeedsOffice>{(office) => <Account office={office} id={id} />}</NeedsOffice>;
}
