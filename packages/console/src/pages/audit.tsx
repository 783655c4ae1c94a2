// The audit log: filters, chain verification with a plain valid/broken
// result, and export of the filtered entries as a JSON file built here.
import { Alert, Button, Card, Group, List, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { Fragment, useState } from 'react';
import { gql, useClient, useQuery } from 'urql';
import { useSearch } from 'wouter';
import { errorMessage } from '../api.js';
import { downloadJson, ErrorNotice, JsonBlock, PageHeader, When } from '../ui.js';
import { useViewer } from '../viewer.js';

const EVENTS = gql`
  query ConsoleAudit(
    $tenant: String
    $action: String
    $actor: String
    $resourceType: String
    $resourceId: String
    $since: DateTimeISO
    $until: DateTimeISO
    $first: Int!
    $after: String
  ) {
    auditEvents(
      tenant: $tenant
      action: $action
      actor: $actor
      resourceType: $resourceType
      resourceId: $resourceId
      since: $since
      until: $until
      first: $first
      after: $after
    ) {
      totalCount
      pageInfo { endCursor hasNextPage }
      edges { node { id seq chain createdAt action actorType actorId resourceType resourceId requestId sourceAddress diff hash prevHash } }
    }
  }
`;

const VERIFY = gql`
  query ConsoleAuditVerify($tenant: String) {
    auditVerification(tenant: $tenant) {
      ok chain entriesChecked lastSeq
      breaks { kind fromSeq toSeq message }
      lastCheckpoint { seq createdAt keyId }
    }
  }
`;

interface AuditEvent {
  id: string;
  seq: number;
  createdAt: string;
  action: string;
  actorType: string;
  actorId: string;
  resourceType: string;
  resourceId: string;
  requestId: string;
  diff: unknown;
}

interface Events {
  auditEvents: { totalCount: number; pageInfo: { endCursor: string | null; hasNextPage: boolean }; edges: { node: AuditEvent }[] };
}

interface Verification {
  auditVerification: {
    ok: boolean;
    chain: string;
    entriesChecked: number;
    lastSeq: number | null;
    breaks: { kind: string; fromSeq: number; toSeq: number; message: string }[];
    lastCheckpoint: { seq: number; createdAt: string; keyId: string } | null;
  };
}

const FILTERS = [
  ['action', 'Action', 'account.update'],
  ['actor', 'Actor', 'user name or token id'],
  ['resourceType', 'Resource type', 'User'],
  ['resourceId', 'Resource id', ''],
] as const;

type Filters = Record<(typeof FILTERS)[number][0] | 'since' | 'until', string>;

function variablesOf(filters: Filters, tenant: string | undefined) {
  const variables: Record<string, unknown> = { tenant };
  for (const [key, value] of Object.entries(filters)) {
    if (!value.trim()) continue;
    variables[key] = key === 'since' || key === 'until' ? new Date(value).toISOString() : value.trim();
  }
  return variables;
}

function Verify({ tenant }: { tenant: string | undefined }) {
  const [run, setRun] = useState(false);
  const [{ data, error, fetching }, again] = useQuery<Verification>({
    query: VERIFY,
    variables: { tenant },
    pause: !run,
    requestPolicy: 'network-only',
  });
  const result = data?.auditVerification;
  return (
    <Card withBorder mb="md">
      <Group justify="space-between">
        <Title order={2} size="h4">
          Chain verification
        </Title>
        <Button variant="default" loading={fetching} onClick={() => (run ? again({ requestPolicy: 'network-only' }) : setRun(true))}>
          Verify the chain
        </Button>
      </Group>
      <Text size="sm" c="dimmed">
        Recomputes every entry’s hash and checks it against the previous one and the signed checkpoints.
      </Text>
      <ErrorNotice error={error} title="Verification failed to run" />
      {result &&
        (result.ok ? (
          <Alert color="green" title="The chain is intact" role="status" mt="sm">
            {result.entriesChecked} entries checked, up to entry {result.lastSeq ?? 0}.{' '}
            {result.lastCheckpoint && (
              <>
                Last signed checkpoint: entry {result.lastCheckpoint.seq}, <When at={result.lastCheckpoint.createdAt} /> (key{' '}
                {result.lastCheckpoint.keyId}).
              </>
            )}
          </Alert>
        ) : (
          <Alert color="red" title="The chain is broken" role="alert" mt="sm">
            {result.entriesChecked} entries checked. {result.breaks.length} break(s):
            <List>
              {result.breaks.map((b) => (
                <List.Item key={`${b.kind}-${b.fromSeq}`}>
                  Entries {b.fromSeq}–{b.toSeq} ({b.kind}): {b.message}
                </List.Item>
              ))}
            </List>
          </Alert>
        ))}
    </Card>
  );
}

export function AuditPage() {
  const { viewer } = useViewer();
  const tenant = viewer.tenant?.slug;
  const search = new URLSearchParams(useSearch());
  const initial = { action: '', actor: '', resourceType: '', resourceId: search.get('resourceId') ?? '', since: '', until: '' };
  const [draft, setDraft] = useState<Filters>(initial);
  const [filters, setFilters] = useState<Filters>(initial);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [open, setOpen] = useState<string>();
  const [exporting, setExporting] = useState<string>();
  const client = useClient();
  const [{ data, error, fetching }] = useQuery<Events>({
    query: EVENTS,
    variables: { ...variablesOf(filters, tenant), first: 50, after: cursors.at(-1) },
  });
  const exportAll = async () => {
    setExporting('Exporting…');
    const entries: AuditEvent[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await client
        .query<Events>(EVENTS, { ...variablesOf(filters, tenant), first: 500, after }, { requestPolicy: 'network-only' })
        .toPromise();
      if (!page.data) {
        setExporting(errorMessage(page.error) ?? 'The export failed.');
        return;
      }
      entries.push(...page.data.auditEvents.edges.map((e) => e.node));
      if (!page.data.auditEvents.pageInfo.hasNextPage) break;
      after = page.data.auditEvents.pageInfo.endCursor;
    }
    downloadJson(`audit-${tenant ?? 'platform'}-${new Date().toISOString().slice(0, 19).replaceAll(':', '')}.json`, {
      tenant: tenant ?? null,
      filters: variablesOf(filters, tenant),
      exportedAt: new Date().toISOString(),
      entries,
    });
    setExporting(`${entries.length} entries exported.`);
  };
  return (
    <>
      <PageHeader
        title="Audit log"
        description={`Every change to ${viewer.tenant?.name ?? 'the platform'}, kept in a hash chain.`}
        actions={
          <Button variant="default" onClick={() => void exportAll()} loading={exporting === 'Exporting…'}>
            Export as JSON
          </Button>
        }
      />
      {exporting && exporting !== 'Exporting…' && (
        <Text role="status" mb="sm">
          {exporting}
        </Text>
      )}
      <Verify tenant={tenant} />
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setFilters(draft);
          setCursors([null]);
        }}
        aria-label="Audit filters"
      >
        <Group align="flex-end" mb="md" wrap="wrap">
          {FILTERS.map(([key, label, placeholder]) => (
            <TextInput
              key={key}
              label={label}
              placeholder={placeholder}
              value={draft[key]}
              onChange={(e) => setDraft({ ...draft, [key]: e.currentTarget.value })}
            />
          ))}
          <TextInput
            type="datetime-local"
            label="Since"
            value={draft.since}
            onChange={(e) => setDraft({ ...draft, since: e.currentTarget.value })}
          />
          <TextInput
            type="datetime-local"
            label="Until"
            value={draft.until}
            onChange={(e) => setDraft({ ...draft, until: e.currentTarget.value })}
          />
          <Button type="submit">Apply filters</Button>
        </Group>
      </form>
      <ErrorNotice error={error} />
      <Table striped aria-busy={fetching}>
        <Table.Caption>{data ? `${data.auditEvents.totalCount} entries` : 'Loading…'}</Table.Caption>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>#</Table.Th>
            <Table.Th>When</Table.Th>
            <Table.Th>Action</Table.Th>
            <Table.Th>Actor</Table.Th>
            <Table.Th>Resource</Table.Th>
            <Table.Th>Change</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data?.auditEvents.edges.map(({ node }) => (
            <Fragment key={node.id}>
              <Table.Tr>
                <Table.Td>{node.seq}</Table.Td>
                <Table.Td>
                  <When at={node.createdAt} />
                </Table.Td>
                <Table.Td>{node.action}</Table.Td>
                <Table.Td>
                  {node.actorType}: {node.actorId}
                </Table.Td>
                <Table.Td>
                  {node.resourceType} {node.resourceId}
                </Table.Td>
                <Table.Td>
                  <Button
                    size="compact-xs"
                    variant="default"
                    onClick={() => setOpen(open === node.id ? undefined : node.id)}
                    aria-expanded={open === node.id}
                  >
                    {open === node.id ? 'Hide' : 'Show'}
                  </Button>
                </Table.Td>
              </Table.Tr>
              {open === node.id && (
                <Table.Tr>
                  <Table.Td colSpan={6}>
                    <Stack gap="xs">
                      <Text size="sm">Request {node.requestId}</Text>
                      <JsonBlock value={node.diff} label={`Change of entry ${node.seq}`} />
                    </Stack>
                  </Table.Td>
                </Table.Tr>
              )}
            </Fragment>
          ))}
        </Table.Tbody>
      </Table>
      <Group mt="md">
        <Button variant="default" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </Button>
        <Button
          variant="default"
          disabled={!data?.auditEvents.pageInfo.hasNextPage}
          onClick={() => setCursors([...cursors, data?.auditEvents.pageInfo.endCursor ?? null])}
        >
          Next page
        </Button>
      </Group>
    </>
  );
}
