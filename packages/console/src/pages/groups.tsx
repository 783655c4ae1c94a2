// Groups of one office and one group's members, paged by the server (a group can have 100,000 members: the page
// reads 50 of them at a time through `memberPage`, never the whole list).
import { Anchor, Button, Group, Stack, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useState } from 'react';
import { gql, useMutation, useQuery } from 'urql';
import { Link, useLocation, useParams } from 'wouter';
import { ErrorNotice, NeedsOffice, PageHeader } from '../ui.js';
import { useViewer } from '../viewer.js';

const GROUPS = gql`
  query ConsoleGroups($tenant: String!, $scimFilter: String, $after: String) {
    groups(tenant: $tenant, scimFilter: $scimFilter, first: 25, after: $after) {
      totalCount
      pageInfo { endCursor hasNextPage }
      edges { node { id displayName externalId memberPage(first: 0) { totalCount } } }
    }
  }
`;

const CREATE = gql`mutation ConsoleCreateGroup($tenant: String!, $displayName: String!) { createGroup(tenant: $tenant, displayName: $displayName) { id } }`;

function GroupList({ office }: { office: string }) {
  const { can } = useViewer();
  const [text, setText] = useState('');
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [debounced] = useDebouncedValue(text, 250);
  const scimFilter = debounced.trim() ? `displayName co ${JSON.stringify(debounced.trim())}` : undefined;
  const [{ data, error }] = useQuery<{
    groups: {
      totalCount: number;
      pageInfo: { endCursor: string | null; hasNextPage: boolean };
      edges: { node: { id: string; displayName: string; externalId: string | null; memberPage: { totalCount: number } } }[];
    };
  }>({ query: GROUPS, variables: { tenant: office, scimFilter, after: cursors.at(-1) } });
  const [name, setName] = useState('');
  const [created, create] = useMutation<{ createGroup: { id: string } }>(CREATE);
  const [, navigate] = useLocation();
  return (
    <>
      <PageHeader title="Groups" />
      <Group align="flex-end" mb="md">
        <TextInput
          type="search"
          label="Search groups"
          value={text}
          onChange={(e) => {
            setText(e.currentTarget.value);
            setCursors([null]);
          }}
        />
        {can('hr.write') && (
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              const done = await create({ tenant: office, displayName: name.trim() });
              if (done.data) navigate(`/groups/${done.data.createGroup.id}`);
            }}
          >
            <Group align="flex-end">
              <TextInput label="New group’s name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
              <Button type="submit" disabled={!name.trim()}>
                Create group
              </Button>
            </Group>
          </form>
        )}
      </Group>
      <ErrorNotice error={error ?? created.error} />
      <Table striped>
        <Table.Caption>{data ? `${data.groups.totalCount} groups` : 'Loading…'}</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Group</Table.Th>
            <Table.Th>External id</Table.Th>
            <Table.Th>Members</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data?.groups.edges.map(({ node }) => (
            <Table.Tr key={node.id}>
              <Table.Td>
                <Anchor component={Link} href={`/groups/${node.id}`}>
                  {node.displayName}
                </Anchor>
              </Table.Td>
              <Table.Td>{node.externalId}</Table.Td>
              <Table.Td>{node.memberPage.totalCount}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group mt="md">
        <Button variant="default" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </Button>
        <Button
          variant="default"
          disabled={!data?.groups.pageInfo.hasNextPage}
          onClick={() => setCursors([...cursors, data?.groups.pageInfo.endCursor ?? null])}
        >
          Next page
        </Button>
      </Group>
    </>
  );
}

export function GroupsPage() {
  return <NeedsOffice>{(office) => <GroupList key={office} office={office} />}</NeedsOffice>;
}

const MEMBERS_PAGE = 50;

const GROUP = gql`
  query ConsoleGroup($tenant: String!, $scimFilter: String!, $first: Int!, $after: String, $filter: String) {
    groups(tenant: $tenant, scimFilter: $scimFilter, first: 1) {
      edges {
        node {
          id displayName externalId version
          memberPage(first: $first, after: $after, filter: $filter) {
            totalCount
            pageInfo { endCursor hasNextPage }
            edges { node { id type display } }
          }
        }
      }
    }
  }
`;
const ADD = gql`mutation ConsoleAddMembers($tenant: String!, $group: ID!, $members: [ID!]!) { addGroupMembers(tenant: $tenant, group: $group, members: $members) { id version } }`;
const REMOVE = gql`mutation ConsoleRemoveMembers($tenant: String!, $group: ID!, $members: [ID!]!) { removeGroupMembers(tenant: $tenant, group: $group, members: $members) { id version } }`;

interface MemberPage {
  totalCount: number;
  pageInfo: { endCursor: string | null; hasNextPage: boolean };
  edges: { node: { id: string; type: string; display: string | null } }[];
}

function GroupDetail({ office, id }: { office: string; id: string }) {
  const { can } = useViewer();
  const [text, setText] = useState('');
  const [debounced] = useDebouncedValue(text, 250);
  const filter = debounced.trim() || undefined;
  // The cursor of each page shown so far: Next pushes the last page's end cursor, Previous pops it.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [{ data, error }] = useQuery<{
    groups: {
      edges: { node: { id: string; displayName: string; externalId: string | null; memberPage: MemberPage } }[];
    };
  }>({
    query: GROUP,
    variables: { tenant: office, scimFilter: `id eq ${JSON.stringify(id)}`, first: MEMBERS_PAGE, after: cursors.at(-1), filter },
  });
  const [member, setMember] = useState('');
  const [added, add] = useMutation(ADD);
  const [removed, remove] = useMutation(REMOVE);
  const group = data?.groups.edges[0]?.node;
  const page = group?.memberPage;
  const pages = Math.max(1, Math.ceil((page?.totalCount ?? 0) / MEMBERS_PAGE));
  return (
    <>
      <PageHeader title={group?.displayName ?? 'Group'} description={page && !filter ? `${page.totalCount} members` : undefined} />
      <Anchor component={Link} href="/groups" mb="md" display="inline-block">
        ← All groups
      </Anchor>
      <ErrorNotice error={error ?? added.error ?? removed.error} />
      {group && page && (
        <Stack>
          {can('hr.write') && (
            <form
              onSubmit={async (e) => {
                e.preventDefault();
                const done = await add({ tenant: office, group: group.id, members: [member.trim()] });
                if (done.data) setMember('');
              }}
            >
              <Group align="flex-end">
                <TextInput
                  label="Add a member (account or group id)"
                  value={member}
                  onChange={(e) => setMember(e.currentTarget.value)}
                  w={360}
                />
                <Button type="submit" disabled={!member.trim()}>
                  Add member
                </Button>
              </Group>
            </form>
          )}
          <TextInput
            type="search"
            label="Search members"
            description="Part of a name or userName"
            value={text}
            onChange={(e) => {
              setText(e.currentTarget.value);
              setCursors([null]);
            }}
            w={360}
          />
          <Table striped>
            <Table.Caption>{filter ? `${page.totalCount} members match` : `${page.totalCount} members`}</Table.Caption>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Member</Table.Th>
                <Table.Th>Type</Table.Th>
                {can('hr.write') && <Table.Th>Remove</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {page.edges.map(({ node: m }) => (
                <Table.Tr key={m.id}>
                  <Table.Td>
                    {m.type === 'User' ? (
                      <Anchor component={Link} href={`/accounts/${m.id}`}>
                        {m.display ?? m.id}
                      </Anchor>
                    ) : (
                      (m.display ?? m.id)
                    )}
                  </Table.Td>
                  <Table.Td>{m.type}</Table.Td>
                  {can('hr.write') && (
                    <Table.Td>
                      <Button
                        size="compact-sm"
                        variant="default"
                        onClick={() => remove({ tenant: office, group: group.id, members: [m.id] })}
                      >
                        Remove {m.display ?? m.id}
                      </Button>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Group>
            <Button variant="default" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous page
            </Button>
            <Text>
              Page {cursors.length} of {pages}
            </Text>
            <Button
              variant="default"
              disabled={!page.pageInfo.hasNextPage}
              onClick={() => setCursors([...cursors, page.pageInfo.endCursor])}
            >
              Next page
            </Button>
          </Group>
        </Stack>
      )}
    </>
  );
}

export function GroupPage() {
  const { id } = useParams<{ id: string }>();
  return <NeedsOffice>{(office) => <GroupDetail office={office} id={id} />}</NeedsOffice>;
}
