// Home: what the acting role can do, with the office's replication at a glance when it may see it.
import { Anchor, Badge, Card, Group, List, SimpleGrid, Table, Text, Title } from '@mantine/core';
import { gql, useQuery } from 'urql';
import { Link } from 'wouter';
import { PageHeader } from '../ui.js';
import { roleName, useViewer } from '../viewer.js';

const OFFICE_SUMMARY = gql`
  query HomeOffice($tenant: String!) {
    tenant(slug: $tenant) {
      name
      users(first: 1) { totalCount }
      replicationCounts { targetId name pending delivered failed deadLettered }
    }
  }
`;

interface Summary {
  tenant: {
    name: string;
    users: { totalCount: number };
    replicationCounts: { targetId: string; name: string; pending: number; delivered: number; failed: number; deadLettered: number }[];
  };
}

function OfficeSummary({ office }: { office: string }) {
  const { can } = useViewer();
  const [{ data }] = useQuery<Summary>({
    query: OFFICE_SUMMARY,
    variables: { tenant: office },
    pause: !can('directory.read') || !can('replication.read'),
  });
  if (!data) return null;
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="sm">
        {data.tenant.name}
      </Title>
      <Text mb="sm">{data.tenant.users.totalCount} accounts.</Text>
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Target</Table.Th>
            <Table.Th>Pending</Table.Th>
            <Table.Th>Delivered</Table.Th>
            <Table.Th>Failed</Table.Th>
            <Table.Th>Dead-lettered</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data.tenant.replicationCounts.map((c) => (
            <Table.Tr key={c.targetId}>
              <Table.Td>
                <Anchor component={Link} href={`/targets/${encodeURIComponent(c.name)}`}>
                  {c.name}
                </Anchor>
              </Table.Td>
              <Table.Td>{c.pending}</Table.Td>
              <Table.Td>{c.delivered}</Table.Td>
              <Table.Td>{c.failed}</Table.Td>
              <Table.Td>{c.deadLettered > 0 ? <Badge color="red">{c.deadLettered}</Badge> : 0}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Card>
  );
}

export function HomePage() {
  const { viewer, office, can } = useViewer();
  const tasks = [
    can('directory.read') && { href: '/accounts', text: 'Find, create and change accounts' },
    can('replication.read') && { href: '/targets', text: 'Watch replication targets and replay dead letters' },
    can('people.read') && { href: '/directory', text: 'Resolve conflicts in the global directory' },
    can('hr.write') && { href: '/joiners-movers-leavers', text: 'Record a joiner, a mover or a leaver' },
    can('audit.read') && { href: '/audit', text: 'Read, verify and export the audit log' },
    { href: '/me', text: 'See and edit your own account' },
  ].filter((t): t is { href: string; text: string } => Boolean(t));
  return (
    <>
      <PageHeader
        title="Home"
        description={`Signed in as ${viewer.account?.displayName ?? viewer.account?.userName ?? 'you'}, acting as ${roleName(viewer.actingRole)}.`}
      />
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder>
          <Title order={2} size="h4" mb="sm">
            What you can do
          </Title>
          <List>
            {tasks.map((t) => (
              <List.Item key={t.href}>
                <Anchor component={Link} href={t.href}>
                  {t.text}
                </Anchor>
              </List.Item>
            ))}
          </List>
          {viewer.grants.length > 0 && (
            <Group mt="md" gap="xs">
              <Text size="sm">Your console roles:</Text>
              {viewer.grants.map((g) => (
                <Badge key={g.id}>
                  {roleName(g.role)} · {g.level === 'tenant' ? g.tenant?.name : g.level === 'community' ? g.community?.name : 'platform'}
                </Badge>
              ))}
            </Group>
          )}
        </Card>
        {office && <OfficeSummary office={office} />}
      </SimpleGrid>
    </>
  );
}
