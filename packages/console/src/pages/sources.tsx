// Inbound sources of one office: where accounts come from (LDAP, SCIM, HR), their last sync, and a sync or dry run on demand.
import { Alert, Badge, Button, Card, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { gql, useMutation, useQuery } from 'urql';
import { ErrorNotice, NeedsOffice, PageHeader, When } from '../ui.js';
import { useViewer } from '../viewer.js';

const SOURCES = gql`
  query ConsoleSources($tenant: String!) {
    inboundSources(tenant: $tenant) {
      id name kind syncIntervalSeconds lastSyncAt lastFullSyncAt lastSyncStatus lastSyncError
      lastSyncCounts { read created updated deleted unchanged failed full }
    }
  }
`;
const SYNC = gql`
  mutation ConsoleSync($tenant: String!, $source: String!, $dryRun: Boolean!, $full: Boolean!) {
    syncInboundSource(tenant: $tenant, source: $source, dryRun: $dryRun, full: $full) { status dryRun read created updated deleted unchanged failed { message } }
  }
`;

interface Source {
  id: string;
  name: string;
  kind: string;
  syncIntervalSeconds: number | null;
  lastSyncAt: string | null;
  lastSyncStatus: string | null;
  lastSyncError: string | null;
  lastSyncCounts: { read: number; created: number; updated: number; deleted: number; unchanged: number; failed: number } | null;
}

function Sources({ office }: { office: string }) {
  const { can } = useViewer();
  const [{ data, error }, refresh] = useQuery<{ inboundSources: Source[] }>({ query: SOURCES, variables: { tenant: office } });
  const [synced, sync] = useMutation<{
    syncInboundSource: {
      status: string;
      dryRun: boolean;
      read: number;
      created: number;
      updated: number;
      deleted: number;
      unchanged: number;
      failed: { message: string }[];
    };
  }>(SYNC);
  const [last, setLast] = useState<string>();
  const run = async (source: string, dryRun: boolean) => {
    const done = await sync({ tenant: office, source, dryRun, full: true });
    const r = done.data?.syncInboundSource;
    if (r) {
      setLast(
        `${source}: ${r.dryRun ? 'dry run' : r.status}, ${r.read} read, ${r.created} to create, ${r.updated} to update, ${r.deleted} to delete, ${r.unchanged} unchanged, ${r.failed.length} failed.`,
      );
      refresh({ requestPolicy: 'network-only' });
    }
  };
  return (
    <>
      <PageHeader title="Inbound sources" description="Directories and HR systems this office’s accounts are read from." />
      <ErrorNotice error={error ?? synced.error} />
      {last && (
        <Alert color="blue" role="status" mb="md">
          {last}
        </Alert>
      )}
      {data?.inboundSources.length === 0 && (
        <Text>This office has no inbound source; its accounts come over SCIM or from this console.</Text>
      )}
      <Stack>
        {data?.inboundSources.map((s) => (
          <Card withBorder key={s.id}>
            <Group justify="space-between">
              <Title order={2} size="h5">
                {s.name} ({s.kind})
              </Title>
              {can('replication.manage') && (
                <Group>
                  <Button variant="default" size="xs" onClick={() => void run(s.name, true)}>
                    Dry run
                  </Button>
                  <Button size="xs" onClick={() => void run(s.name, false)}>
                    Sync now
                  </Button>
                </Group>
              )}
            </Group>
            <Text size="sm">
              Last sync <When at={s.lastSyncAt} />:{' '}
              {s.lastSyncStatus ? <Badge color={s.lastSyncError ? 'red' : 'green'}>{s.lastSyncStatus}</Badge> : 'never'}{' '}
              {s.syncIntervalSeconds ? `every ${Math.round(s.syncIntervalSeconds / 60)} min` : 'on demand'}
            </Text>
            {s.lastSyncError && (
              <Text size="sm" c="red.9">
                {s.lastSyncError}
              </Text>
            )}
            {s.lastSyncCounts && (
              <Table mt="xs">
                <Table.Tbody>
                  <Table.Tr>
                    {Object.entries(s.lastSyncCounts)
                      .filter(([k]) => k !== '__typename')
                      .map(([k, v]) => (
                        <Table.Td key={k}>
                          {k}: {String(v)}
                        </Table.Td>
                      ))}
                  </Table.Tr>
                </Table.Tbody>
              </Table>
            )}
          </Card>
        ))}
      </Stack>
    </>
  );
}

export function SourcesPage() {
  return <NeedsOffice>{(office) => <Sources key={office} office={office} />}</NeedsOffice>;
}
