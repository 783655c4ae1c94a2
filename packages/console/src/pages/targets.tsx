// Replication targets of one office: status and counts per target, refreshed
// every few seconds; one target's page adds pause/resume, a connection test,
// reconcile (a dry run shown per object, then apply) and its dead letters with
// request, response and replay. Who may manage targets creates, changes and
// deletes them here too (target-form.tsx).
import { Alert, Anchor, Badge, Button, Card, Group, Modal, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { Fragment, useEffect, useState } from 'react';
import { type AnyVariables, gql, type UseQueryExecute, useMutation, useQuery } from 'urql';
import { Link, useLocation, useParams } from 'wouter';
import { ConfirmDialog } from '../forms.js';
import { ErrorNotice, JsonBlock, NeedsOffice, PageHeader, When } from '../ui.js';
import { useViewer } from '../viewer.js';
import { type EditedTarget, TargetForm } from './target-form.js';

/** How often status and dead letters refresh without a reload. */
const REFRESH_MS = 3_000;

/** Re-runs a query from the network every few seconds while the page is shown. */
function usePolling(execute: UseQueryExecute, ms = REFRESH_MS) {
  useEffect(() => {
    const timer = setInterval(() => execute({ requestPolicy: 'network-only' }), ms);
    return () => clearInterval(timer);
  }, [execute, ms]);
}

interface Counts {
  pending: number;
  delivered: number;
  failed: number;
  deadLettered: number;
  skipped: number;
}

interface TargetSummary {
  id: string;
  name: string;
  kind: string;
  enabled: boolean;
  paused: boolean;
  circuitState: string;
  consecutiveFailures: number;
  counts: Counts | null;
}

const TARGETS = gql`
  query ConsoleTargets($tenant: String!) {
    tenant(slug: $tenant) {
      id
      replicationTargets { id name kind enabled paused circuitState consecutiveFailures counts { pending delivered failed deadLettered skipped } }
    }
  }
`;

function StateBadge({ target }: { target: Pick<TargetSummary, 'paused' | 'enabled' | 'circuitState'> }) {
  if (!target.enabled) return <Badge color="gray">Disabled</Badge>;
  if (target.paused) return <Badge color="yellow">Paused</Badge>;
  if (target.circuitState === 'open') return <Badge color="red">Failing (circuit open)</Badge>;
  if (target.circuitState === 'half_open') return <Badge color="orange">Probing</Badge>;
  return <Badge color="green">Running</Badge>;
}

function TargetList({ office }: { office: string }) {
  const [{ data, error }, refresh] = useQuery<{ tenant: { replicationTargets: TargetSummary[] } }>({
    query: TARGETS,
    variables: { tenant: office },
  });
  usePolling(refresh);
  const { can } = useViewer();
  const [creating, setCreating] = useState(false);
  const [, navigate] = useLocation();
  return (
    <>
      <PageHeader
        title="Replication targets"
        description="The clouds and directories this office’s accounts and groups are pushed to. Refreshes every few seconds."
        actions={can('replication.manage') && <Button onClick={() => setCreating(true)}>New target</Button>}
      />
      <Modal
        opened={creating}
        onClose={() => setCreating(false)}
        title="New replication target"
        size="lg"
        closeButtonProps={{ 'aria-label': 'Close' }}
      >
        <TargetForm office={office} onSaved={(name) => navigate(`/targets/${encodeURIComponent(name)}`)} />
      </Modal>
      <ErrorNotice error={error} />
      <Table striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Target</Table.Th>
            <Table.Th>Kind</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Pending</Table.Th>
            <Table.Th>Delivered</Table.Th>
            <Table.Th>Failed</Table.Th>
            <Table.Th>Dead-lettered</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data?.tenant.replicationTargets.map((t) => (
            <Table.Tr key={t.id}>
              <Table.Td>
                <Anchor component={Link} href={`/targets/${encodeURIComponent(t.name)}`}>
                  {t.name}
                </Anchor>
              </Table.Td>
              <Table.Td>{t.kind}</Table.Td>
              <Table.Td>
                <StateBadge target={t} />
              </Table.Td>
              <Table.Td>{t.counts?.pending ?? 0}</Table.Td>
              <Table.Td>{t.counts?.delivered ?? 0}</Table.Td>
              <Table.Td>{t.counts?.failed ?? 0}</Table.Td>
              <Table.Td>{t.counts?.deadLettered ? <Badge color="red">{t.counts.deadLettered}</Badge> : 0}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {data?.tenant.replicationTargets.length === 0 && <Text mt="md">This office has no replication target.</Text>}
    </>
  );
}

export function TargetsPage() {
  return <NeedsOffice>{(office) => <TargetList key={office} office={office} />}</NeedsOffice>;
}

const TARGET = gql`
  query ConsoleTarget($tenant: String!, $target: String!) {
    tenant(slug: $tenant) {
      id
      replicationTargets {
        id name kind enabled paused circuitState consecutiveFailures deleteMode graceSeconds config scoping secretNames updatedAt
        counts { pending delivered failed deadLettered skipped }
      }
      deadLetters(target: $target, limit: 50) { id kind localId operation reason errorCode createdAt replayedAt request response }
    }
  }
`;

interface DeadLetter {
  id: string;
  kind: string;
  localId: string;
  operation: string;
  reason: string;
  errorCode: string | null;
  createdAt: string;
  request: unknown;
  response: unknown;
}

interface DriftItem {
  kind: string;
  localId: string | null;
  remoteId: string | null;
  name: string | null;
  drift: string;
  action: string;
  differences: string[];
  applied: boolean | null;
  error: string | null;
}

interface Report {
  dryRun: boolean;
  hubObjects: number;
  remoteObjects: number;
  inSync: number;
  fixed: number;
  failed: number;
  items: DriftItem[];
}

const PAUSE = gql`mutation ConsolePause($tenant: String!, $target: String!) { pauseReplicationTarget(tenant: $tenant, target: $target) { id paused } }`;
const RESUME = gql`mutation ConsoleResume($tenant: String!, $target: String!) { resumeReplicationTarget(tenant: $tenant, target: $target) { id paused } }`;
const TEST = gql`mutation ConsoleTest($tenant: String!, $target: String!) { testReplicationTarget(tenant: $tenant, target: $target) { ok message latencyMs } }`;
const RECONCILE = gql`
  mutation ConsoleReconcile($tenant: String!, $target: String!, $dryRun: Boolean!) {
    reconcileReplicationTarget(tenant: $tenant, target: $target, dryRun: $dryRun) {
      dryRun hubObjects remoteObjects inSync fixed failed
      items { kind localId remoteId name drift action differences applied error }
    }
  }
`;
const DELETE = gql`mutation ConsoleDeleteTarget($tenant: String!, $target: String!) { deleteReplicationTarget(tenant: $tenant, target: $target) }`;
const REPLAY = gql`mutation ConsoleReplay($tenant: String!, $id: ID!) { replayDeadLetter(tenant: $tenant, id: $id) { id replayedAt } }`;

function DeadLetters({
  office,
  letters,
  manage,
  onReplayed,
}: {
  office: string;
  letters: DeadLetter[];
  manage: boolean;
  onReplayed: () => void;
}) {
  const [open, setOpen] = useState<string>();
  const [replayed, setReplayed] = useState<string>();
  const [result, replay] = useMutation(REPLAY);
  return (
    <Card withBorder>
      <Title order={2} size="h4" mb="sm">
        Dead letters
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        Changes the target refused after every retry. Fix the cause (the target’s configuration, or the target itself), then replay.
      </Text>
      <ErrorNotice error={result.error} title="Replay refused" />
      {replayed && (
        <Alert color="green" role="status" mb="sm">
          {replayed}
        </Alert>
      )}
      {letters.length === 0 ? (
        <Text>No dead letters.</Text>
      ) : (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When</Table.Th>
              <Table.Th>Object</Table.Th>
              <Table.Th>Operation</Table.Th>
              <Table.Th>Reason</Table.Th>
              <Table.Th>Actions</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {letters.map((letter) => (
              <Fragment key={letter.id}>
                <Table.Tr>
                  <Table.Td>
                    <When at={letter.createdAt} />
                  </Table.Td>
                  <Table.Td>
                    {letter.kind} {letter.localId}
                  </Table.Td>
                  <Table.Td>{letter.operation}</Table.Td>
                  <Table.Td>
                    {letter.errorCode && (
                      <Badge color="red" mr="xs">
                        {letter.errorCode}
                      </Badge>
                    )}
                    {letter.reason}
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <Button
                        size="compact-sm"
                        variant="default"
                        aria-expanded={open === letter.id}
                        onClick={() => setOpen(open === letter.id ? undefined : letter.id)}
                      >
                        {open === letter.id ? 'Hide' : 'Inspect'}
                      </Button>
                      {manage && (
                        <Button
                          size="compact-sm"
                          onClick={async () => {
                            const done = await replay({ tenant: office, id: letter.id });
                            if (done.data) {
                              setReplayed(`Replayed ${letter.kind} ${letter.localId}: it is queued for delivery again.`);
                              onReplayed();
                            }
                          }}
                        >
                          Replay
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                </Table.Tr>
                {open === letter.id && (
                  <Table.Tr>
                    <Table.Td colSpan={5}>
                      <SimpleGrid cols={2}>
                        <Stack gap={4}>
                          <Text fw={600} size="sm">
                            Request
                          </Text>
                          <JsonBlock value={letter.request} label="Request sent to the target" />
                        </Stack>
                        <Stack gap={4}>
                          <Text fw={600} size="sm">
                            Response
                          </Text>
                          <JsonBlock value={letter.response} label="Response of the target" />
                        </Stack>
                      </SimpleGrid>
                    </Table.Td>
                  </Table.Tr>
                )}
              </Fragment>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Card>
  );
}

function Reconcile({ office, target }: { office: string; target: string }) {
  const [result, reconcile] = useMutation<{ reconcileReplicationTarget: Report }>(RECONCILE);
  const report = result.data?.reconcileReplicationTarget;
  const drifting = report?.items.filter((i) => i.drift !== 'in_sync') ?? [];
  return (
    <Card withBorder>
      <Group justify="space-between" mb="sm">
        <Title order={2} size="h4">
          Reconcile
        </Title>
        <Group>
          <Button variant="default" loading={result.fetching} onClick={() => reconcile({ tenant: office, target, dryRun: true })}>
            Compare (dry run)
          </Button>
          <Button disabled={!report?.dryRun || drifting.length === 0} onClick={() => reconcile({ tenant: office, target, dryRun: false })}>
            Apply the fixes
          </Button>
        </Group>
      </Group>
      <Text size="sm" c="dimmed">
        Compares what the hub holds with what the target holds, object by object; applying pushes the hub’s version.
      </Text>
      <ErrorNotice error={result.error} title="Reconcile failed" />
      {report && (
        <Stack mt="sm">
          <Text role="status">
            {report.dryRun ? 'Dry run' : 'Applied'}: {report.hubObjects} objects in the hub, {report.remoteObjects} at the target,{' '}
            {report.inSync} in sync
            {report.dryRun ? `, ${drifting.length} to fix` : `, ${report.fixed} fixed, ${report.failed} failed`}.
          </Text>
          {drifting.length > 0 && (
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Object</Table.Th>
                  <Table.Th>Drift</Table.Th>
                  <Table.Th>Action</Table.Th>
                  <Table.Th>Differences</Table.Th>
                  <Table.Th>Result</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {drifting.map((item) => (
                  <Table.Tr key={`${item.kind}-${item.localId ?? item.remoteId}`}>
                    <Table.Td>
                      {item.kind} {item.name ?? item.localId ?? item.remoteId}
                    </Table.Td>
                    <Table.Td>{item.drift}</Table.Td>
                    <Table.Td>{item.action}</Table.Td>
                    <Table.Td>
                      {item.differences.length > 0 ? (
                        <ul>
                          {item.differences.map((d) => (
                            <li key={d}>{d}</li>
                          ))}
                        </ul>
                      ) : (
                        '—'
                      )}
                    </Table.Td>
                    <Table.Td>{item.error ?? (item.applied ? 'fixed' : report.dryRun ? 'planned' : '—')}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      )}
    </Card>
  );
}

function Target({ office, name }: { office: string; name: string }) {
  const { can } = useViewer();
  const manage = can('replication.manage');
  const [{ data, error }, refresh] = useQuery<{
    tenant: { replicationTargets: (TargetSummary & EditedTarget & { updatedAt: string })[]; deadLetters: DeadLetter[] };
  }>({
    query: TARGET,
    variables: { tenant: office, target: name } satisfies AnyVariables,
  });
  usePolling(refresh);
  const [pauseResult, pause] = useMutation(PAUSE);
  const [resumeResult, resume] = useMutation(RESUME);
  const [testResult, test] = useMutation<{ testReplicationTarget: { ok: boolean; message: string; latencyMs: number | null } }>(TEST);
  const [deleteResult, remove] = useMutation(DELETE);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [, navigate] = useLocation();
  const target = data?.tenant.replicationTargets.find((t) => t.name === name);
  const tested = testResult.data?.testReplicationTarget;
  return (
    <>
      <PageHeader title={`Target ${name}`} description="Refreshes every few seconds." />
      <Anchor component={Link} href="/targets" mb="md" display="inline-block">
        ← All targets
      </Anchor>
      <ErrorNotice error={error ?? pauseResult.error ?? resumeResult.error ?? testResult.error} />
      {data && !target && <Alert color="yellow">No target named {name} in this office.</Alert>}
      {target && (
        <Stack>
          <Card withBorder>
            <Group justify="space-between">
              <Group>
                <StateBadge target={target} />
                <Text size="sm">
                  {target.kind}, {target.consecutiveFailures} consecutive failure(s), deletes by {target.deleteMode}.
                </Text>
              </Group>
              {manage && (
                <Group>
                  {target.paused ? (
                    <Button variant="default" loading={resumeResult.fetching} onClick={() => resume({ tenant: office, target: name })}>
                      Resume
                    </Button>
                  ) : (
                    <Button variant="default" loading={pauseResult.fetching} onClick={() => pause({ tenant: office, target: name })}>
                      Pause
                    </Button>
                  )}
                  <Button variant="default" loading={testResult.fetching} onClick={() => test({ tenant: office, target: name })}>
                    Test connection
                  </Button>
                  <Button variant="default" onClick={() => setEditing(true)}>
                    Edit
                  </Button>
                  <Button variant="outline" color="red" onClick={() => setDeleting(true)}>
                    Delete
                  </Button>
                </Group>
              )}
            </Group>
            {tested && (
              <Alert color={tested.ok ? 'green' : 'red'} role="status" mt="sm" title={tested.ok ? 'Connection works' : 'Connection failed'}>
                {tested.message}
                {tested.latencyMs !== null && ` (${tested.latencyMs} ms)`}
              </Alert>
            )}
            <Group mt="md" gap="xl" aria-label="Delivery counts">
              <Text>Pending: {target.counts?.pending ?? 0}</Text>
              <Text>Delivered: {target.counts?.delivered ?? 0}</Text>
              <Text>Failed: {target.counts?.failed ?? 0}</Text>
              <Text>Dead-lettered: {target.counts?.deadLettered ?? 0}</Text>
            </Group>
          </Card>
          <DeadLetters
            office={office}
            letters={data?.tenant.deadLetters ?? []}
            manage={manage}
            onReplayed={() => refresh({ requestPolicy: 'network-only' })}
          />
          {manage && <Reconcile office={office} target={name} />}
          <Modal
            opened={editing}
            onClose={() => setEditing(false)}
            title={`Change target ${name}`}
            size="lg"
            closeButtonProps={{ 'aria-label': 'Close' }}
          >
            <TargetForm
              office={office}
              target={target}
              onSaved={(saved) => {
                setEditing(false);
                if (saved !== name) navigate(`/targets/${encodeURIComponent(saved)}`);
              }}
            />
          </Modal>
          <ConfirmDialog
            opened={deleting}
            title={`Delete target ${name}?`}
            confirm="Delete the target"
            busy={deleteResult.fetching}
            error={deleteResult.error}
            onClose={() => setDeleting(false)}
            onConfirm={async () => {
              const done = await remove({ tenant: office, target: name });
              if (done.data) navigate('/targets');
            }}
          >
            <Text>
              Meridian stops pushing to {name} and forgets its queue, its links to the objects there and its dead letters. The accounts and
              groups already at the target stay there as they are: remove them at the target if they should go.
            </Text>
          </ConfirmDialog>
        </Stack>
      )}
    </>
  );
}

export function TargetPage() {
  const { name } = useParams<{ name: string }>();
  return <NeedsOffice>{(office) => <Target office={office} name={decodeURIComponent(name)} />}</NeedsOffice>;
}
