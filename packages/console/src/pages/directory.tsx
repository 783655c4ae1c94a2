// The community's global directory: people with their accounts across
// offices, conflicts and how to resolve them (pin, link, unlink, release),
// and the authority rules.
import { Alert, Anchor, Badge, Button, Card, Group, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useState } from 'react';
import { gql, useMutation, useQuery } from 'urql';
import { Link, useParams } from 'wouter';
import { ErrorNotice, PageHeader, When } from '../ui.js';
import { useViewer } from '../viewer.js';

const PEOPLE = gql`
  query ConsolePeople($community: String, $filter: PersonFilter, $after: String) {
    people(community: $community, filter: $filter, first: 25, after: $after) {
      totalCount
      pageInfo { endCursor hasNextPage }
      edges { node { id displayName email title department conflictCount accounts { id userName tenant { slug name } } } }
    }
  }
`;

interface PersonRow {
  id: string;
  displayName: string | null;
  email: string | null;
  title: string | null;
  department: string | null;
  conflictCount: number;
  accounts: { id: string; userName: string; tenant: { slug: string; name: string } }[];
}

const RULES = gql`
  query ConsoleRules($community: String) { directoryRules(community: $community) { correlation authority { attribute tenants } } }
`;
const SET_RULES = gql`
  mutation ConsoleSetRules($community: String, $authority: [AuthorityRuleInput!]) {
    setDirectoryRules(community: $community, authority: $authority) { correlation authority { attribute tenants } }
  }
`;

function AuthorityRules({ community }: { community: string | undefined }) {
  const { can } = useViewer();
  const [{ data, error }] = useQuery<{ directoryRules: { correlation: string[]; authority: { attribute: string; tenants: string[] }[] } }>({
    query: RULES,
    variables: { community },
  });
  const [attribute, setAttribute] = useState('');
  const [offices, setOffices] = useState('');
  const [result, save] = useMutation(SET_RULES);
  const rules = data?.directoryRules;
  const add = () => {
    if (!rules) return;
    const authority = [
      ...rules.authority.filter((r) => r.attribute !== attribute.trim()),
      { attribute: attribute.trim(), tenants: offices.split(/[\s,]+/).filter(Boolean) },
    ];
    void save({ community, authority });
  };
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="xs">
        Rules
      </Title>
      <ErrorNotice error={error ?? result.error} />
      {rules && (
        <Stack gap="xs">
          <Text size="sm">Accounts are the same person when they share: {rules.correlation.join(', ') || 'nothing (link by hand)'}.</Text>
          <Table>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Attribute</Table.Th>
                <Table.Th>Offices in authority, first wins</Table.Th>
                {can('people.manage') && <Table.Th>Remove</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rules.authority.map((r) => (
                <Table.Tr key={r.attribute}>
                  <Table.Td>{r.attribute}</Table.Td>
                  <Table.Td>{r.tenants.join(', ')}</Table.Td>
                  {can('people.manage') && (
                    <Table.Td>
                      <Button
                        size="compact-sm"
                        variant="default"
                        aria-label={`Remove the rule for ${r.attribute}`}
                        onClick={() => save({ community, authority: rules.authority.filter((x) => x.attribute !== r.attribute) })}
                      >
                        Remove
                      </Button>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          {can('people.manage') && (
            <Group align="flex-end">
              <TextInput label="Attribute" placeholder="title" value={attribute} onChange={(e) => setAttribute(e.currentTarget.value)} />
              <TextInput
                label="Offices (slugs, in order)"
                placeholder="emea, amer"
                value={offices}
                onChange={(e) => setOffices(e.currentTarget.value)}
              />
              <Button variant="default" disabled={!attribute.trim() || !offices.trim()} loading={result.fetching} onClick={add}>
                Set authority rule
              </Button>
            </Group>
          )}
        </Stack>
      )}
    </Card>
  );
}

export function DirectoryPage() {
  const { viewer } = useViewer();
  const community = viewer.community?.slug;
  const [text, setText] = useState('');
  const [onlyConflicts, setOnlyConflicts] = useState(false);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [debounced] = useDebouncedValue(text, 250);
  const filter = {
    ...(debounced.trim() ? { displayNameContains: debounced.trim() } : {}),
    ...(onlyConflicts ? { hasConflicts: true } : {}),
  };
  const [{ data, error }] = useQuery<{
    people: { totalCount: number; pageInfo: { endCursor: string | null; hasNextPage: boolean }; edges: { node: PersonRow }[] };
  }>({ query: PEOPLE, variables: { community, filter, after: cursors.at(-1) } });
  return (
    <>
      <PageHeader
        title="Global directory"
        description="Everyone in the community, with their accounts in each office. Open a person to resolve their conflicts."
      />
      <Group align="flex-end" mb="md">
        <TextInput
          type="search"
          label="Search people"
          placeholder="Display name contains…"
          value={text}
          onChange={(e) => {
            setText(e.currentTarget.value);
            setCursors([null]);
          }}
          w={320}
        />
        <Switch
          label="Only people with conflicts"
          checked={onlyConflicts}
          onChange={(e) => {
            setOnlyConflicts(e.currentTarget.checked);
            setCursors([null]);
          }}
          mb={6}
        />
      </Group>
      <ErrorNotice error={error} />
      <Table striped mb="md">
        <Table.Caption>{data ? `${data.people.totalCount} people` : 'Loading…'}</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Person</Table.Th>
            <Table.Th>Email</Table.Th>
            <Table.Th>Title</Table.Th>
            <Table.Th>Accounts</Table.Th>
            <Table.Th>Conflicts</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data?.people.edges.map(({ node }) => (
            <Table.Tr key={node.id}>
              <Table.Td>
                <Anchor component={Link} href={`/directory/people/${node.id}`}>
                  {node.displayName ?? node.email ?? node.id}
                </Anchor>
              </Table.Td>
              <Table.Td>{node.email}</Table.Td>
              <Table.Td>{node.title}</Table.Td>
              <Table.Td>{node.accounts.map((a) => `${a.userName} (${a.tenant.slug})`).join(', ')}</Table.Td>
              <Table.Td>{node.conflictCount > 0 ? <Badge color="red">{node.conflictCount}</Badge> : 0}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group mb="md">
        <Button variant="default" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </Button>
        <Button
          variant="default"
          disabled={!data?.people.pageInfo.hasNextPage}
          onClick={() => setCursors([...cursors, data?.people.pageInfo.endCursor ?? null])}
        >
          Next page
        </Button>
      </Group>
      <AuthorityRules community={community} />
    </>
  );
}

const PERSON = gql`
  query ConsolePerson($community: String, $id: ID!) {
    person(community: $community, id: $id) {
      id displayName givenName familyName email title department employeeNumber conflictCount updatedAt
      sources { attribute accountId pinned }
      accounts { id userName displayName title department link pinned linkedAt tenant { slug name } }
      conflicts { id kind attribute accountId personId createdAt candidates { value accountId personId rule } }
    }
  }
`;

interface PersonDetail {
  id: string;
  displayName: string | null;
  email: string | null;
  title: string | null;
  department: string | null;
  employeeNumber: string | null;
  conflictCount: number;
  sources: { attribute: string; accountId: string; pinned: boolean }[];
  accounts: {
    id: string;
    userName: string;
    displayName: string | null;
    title: string | null;
    department: string | null;
    link: string;
    pinned: boolean;
    linkedAt: string;
    tenant: { slug: string; name: string };
  }[];
  conflicts: {
    id: string;
    kind: string;
    attribute: string | null;
    accountId: string | null;
    personId: string | null;
    createdAt: string;
    candidates: { value: string | null; accountId: string | null; personId: string | null; rule: string | null }[];
  }[];
}

const PIN = gql`
  mutation ConsolePin($community: String, $person: ID!, $attribute: String!, $tenant: String) {
    pinAttribute(community: $community, person: $person, attribute: $attribute, tenant: $tenant) { id conflictCount }
  }
`;
const LINK = gql`
  mutation ConsoleLink($community: String, $tenant: String!, $account: ID!, $person: ID!) {
    linkAccount(community: $community, tenant: $tenant, account: $account, person: $person) { id conflictCount }
  }
`;
const UNLINK = gql`
  mutation ConsoleUnlink($community: String, $tenant: String!, $account: ID!) {
    unlinkAccount(community: $community, tenant: $tenant, account: $account) { id }
  }
`;
const RELEASE = gql`
  mutation ConsoleRelease($community: String, $tenant: String!, $account: ID!) { releaseAccount(community: $community, tenant: $tenant, account: $account) }
`;

export function PersonPage() {
  const { id } = useParams<{ id: string }>();
  const { viewer, can } = useViewer();
  const community = viewer.community?.slug;
  const manage = can('people.manage');
  const [{ data, error }, refresh] = useQuery<{ person: PersonDetail | null }>({ query: PERSON, variables: { community, id } });
  const [done, setDone] = useState<string>();
  const [pinResult, pin] = useMutation(PIN);
  const [linkResult, link] = useMutation(LINK);
  const [unlinkResult, unlink] = useMutation(UNLINK);
  const [releaseResult, release] = useMutation(RELEASE);
  const person = data?.person;
  const officeOf = (accountId: string | null) => person?.accounts.find((a) => a.id === accountId)?.tenant;
  const after = (message: string) => (result: { error?: unknown }) => {
    if (!result.error) {
      setDone(message);
      refresh({ requestPolicy: 'network-only' });
    }
  };
  return (
    <>
      <PageHeader title={person?.displayName ?? 'Person'} description={person?.email ?? undefined} />
      <Anchor component={Link} href="/directory" mb="md" display="inline-block">
        ← Global directory
      </Anchor>
      <ErrorNotice error={error ?? pinResult.error ?? linkResult.error ?? unlinkResult.error ?? releaseResult.error} />
      {done && (
        <Alert color="green" role="status" mb="md">
          {done}
        </Alert>
      )}
      {data && !person && (
        <Alert color="yellow">
          This person is no longer in the directory (an unlink or a link can remove a person left without accounts).
        </Alert>
      )}
      {person && (
        <Stack>
          <Card withBorder>
            <Title order={2} size="h4" mb="xs">
              Conflicts
            </Title>
            {person.conflicts.length === 0 ? (
              <Text>No conflicts: every attribute has one value.</Text>
            ) : (
              person.conflicts.map((conflict) => (
                <Card key={conflict.id} withBorder mb="sm">
                  {conflict.kind === 'attribute' ? (
                    <>
                      <Text mb="xs">
                        The offices disagree on <strong>{conflict.attribute}</strong>, so the person has none. Choose the office whose value
                        is right for this person (a pin):
                      </Text>
                      <Table>
                        <Table.Tbody>
                          {conflict.candidates.map((c) => {
                            const office = officeOf(c.accountId);
                            return (
                              <Table.Tr key={`${c.accountId}-${c.value}`}>
                                <Table.Td>“{c.value}”</Table.Td>
                                <Table.Td>{office?.name ?? c.accountId}</Table.Td>
                                <Table.Td>
                                  {manage && office && (
                                    <Button
                                      size="compact-sm"
                                      onClick={() =>
                                        pin({ community, person: person.id, attribute: conflict.attribute, tenant: office.slug }).then(
                                          after(`${conflict.attribute} now comes from ${office.name} for this person.`),
                                        )
                                      }
                                    >
                                      Use {office.name}’s value
                                    </Button>
                                  )}
                                </Table.Td>
                              </Table.Tr>
                            );
                          })}
                        </Table.Tbody>
                      </Table>
                    </>
                  ) : (
                    <>
                      <Text mb="xs">An account matches several people. Link it to the right one:</Text>
                      <Table>
                        <Table.Tbody>
                          {conflict.candidates.map((c) => {
                            const office = officeOf(conflict.accountId);
                            return (
                              <Table.Tr key={`${c.personId}`}>
                                <Table.Td>
                                  <Anchor component={Link} href={`/directory/people/${c.personId}`}>
                                    Person {c.personId}
                                  </Anchor>
                                </Table.Td>
                                <Table.Td>
                                  matched by {c.rule} {c.value && `“${c.value}”`}
                                </Table.Td>
                                <Table.Td>
                                  {manage && office && c.personId && (
                                    <Button
                                      size="compact-sm"
                                      onClick={() =>
                                        link({ community, tenant: office.slug, account: conflict.accountId, person: c.personId }).then(
                                          after('The account is linked to that person.'),
                                        )
                                      }
                                    >
                                      Link to this person
                                    </Button>
                                  )}
                                </Table.Td>
                              </Table.Tr>
                            );
                          })}
                        </Table.Tbody>
                      </Table>
                    </>
                  )}
                </Card>
              ))
            )}
          </Card>
          <Card withBorder>
            <Title order={2} size="h4" mb="xs">
              Accounts
            </Title>
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Office</Table.Th>
                  <Table.Th>User name</Table.Th>
                  <Table.Th>Title</Table.Th>
                  <Table.Th>Linked</Table.Th>
                  {manage && <Table.Th>Actions</Table.Th>}
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {person.accounts.map((a) => (
                  <Table.Tr key={a.id}>
                    <Table.Td>{a.tenant.name}</Table.Td>
                    <Table.Td>{a.userName}</Table.Td>
                    <Table.Td>{a.title}</Table.Td>
                    <Table.Td>
                      {a.link}
                      {a.pinned && ' (by hand)'}, <When at={a.linkedAt} />
                    </Table.Td>
                    {manage && (
                      <Table.Td>
                        <Group gap="xs">
                          <Button
                            size="compact-sm"
                            variant="default"
                            onClick={() =>
                              unlink({ community, tenant: a.tenant.slug, account: a.id }).then(
                                after(`${a.userName} is now a person of its own.`),
                              )
                            }
                          >
                            Unlink
                          </Button>
                          {a.pinned && (
                            <Button
                              size="compact-sm"
                              variant="default"
                              onClick={() =>
                                release({ community, tenant: a.tenant.slug, account: a.id }).then(
                                  after(`${a.userName} follows the rules again.`),
                                )
                              }
                            >
                              Release
                            </Button>
                          )}
                        </Group>
                      </Table.Td>
                    )}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
            {manage && <LinkAccount community={community} person={person.id} onLinked={after('The account is linked to this person.')} />}
          </Card>
          <Card withBorder>
            <Title order={2} size="h4" mb="xs">
              Where each value comes from
            </Title>
            <Table>
              <Table.Tbody>
                {person.sources.map((s) => (
                  <Table.Tr key={s.attribute}>
                    <Table.Td>{s.attribute}</Table.Td>
                    <Table.Td>
                      {person.accounts.find((a) => a.id === s.accountId)?.tenant.name ?? s.accountId}
                      {s.pinned && ' (pinned)'}
                    </Table.Td>
                    <Table.Td>
                      {manage && s.pinned && (
                        <Button
                          size="compact-sm"
                          variant="default"
                          onClick={() =>
                            pin({ community, person: person.id, attribute: s.attribute, tenant: null }).then(
                              after(`${s.attribute} follows the rules again.`),
                            )
                          }
                        >
                          Unpin
                        </Button>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Card>
        </Stack>
      )}
    </>
  );
}

function LinkAccount({
  community,
  person,
  onLinked,
}: {
  community: string | undefined;
  person: string;
  onLinked: (r: { error?: unknown }) => void;
}) {
  const [office, setOffice] = useState('');
  const [account, setAccount] = useState('');
  const [, link] = useMutation(LINK);
  return (
    <Group align="flex-end" mt="md">
      <TextInput label="Office (slug)" value={office} onChange={(e) => setOffice(e.currentTarget.value)} />
      <TextInput label="Account (user name or id)" value={account} onChange={(e) => setAccount(e.currentTarget.value)} />
      <Button
        variant="default"
        disabled={!office.trim() || !account.trim()}
        onClick={() => link({ community, tenant: office.trim(), account: account.trim(), person }).then(onLinked)}
      >
        Link an account to this person
      </Button>
    </Group>
  );
}
