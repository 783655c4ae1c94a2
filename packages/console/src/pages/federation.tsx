// The community's relying parties (applications signing in through Meridian) and its event streams (Shared Signals).
import { Badge, Button, Card, Code, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { gql, useMutation, useQuery } from 'urql';
import { ErrorNotice, PageHeader, When } from '../ui.js';
import { useViewer } from '../viewer.js';

const PARTIES = gql`
  query ConsoleRelyingParties($community: String!) {
    relyingParties(community: $community) { id clientId name clientType consent claims redirectUris subjectType createdAt }
  }
`;
const GRANTS = gql`
  query ConsoleRelyingPartyGrants($community: String!, $clientId: String!) {
    relyingPartyGrants(community: $community, clientId: $clientId) { id personId scopes claims createdAt expiresAt }
  }
`;
const REVOKE = gql`mutation ConsoleRevokeGrant($community: String!, $id: ID!) { revokeGrant(community: $community, id: $id) }`;

interface Party {
  id: string;
  clientId: string;
  name: string;
  clientType: string;
  consent: string;
  claims: string[];
  redirectUris: string[];
  subjectType: string;
  createdAt: string;
}

function Grants({ community, clientId }: { community: string; clientId: string }) {
  const { can } = useViewer();
  const [{ data, error }, refresh] = useQuery<{
    relyingPartyGrants: { id: string; personId: string; scopes: string[]; createdAt: string }[];
  }>({
    query: GRANTS,
    variables: { community, clientId },
  });
  const [revoked, revoke] = useMutation(REVOKE);
  return (
    <>
      <ErrorNotice error={error ?? revoked.error} />
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Person</Table.Th>
            <Table.Th>Scopes</Table.Th>
            <Table.Th>Since</Table.Th>
            {can('sso.manage') && <Table.Th>Revoke</Table.Th>}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data?.relyingPartyGrants.map((g) => (
            <Table.Tr key={g.id}>
              <Table.Td>{g.personId}</Table.Td>
              <Table.Td>{g.scopes.join(' ')}</Table.Td>
              <Table.Td>
                <When at={g.createdAt} />
              </Table.Td>
              {can('sso.manage') && (
                <Table.Td>
                  <Button
                    size="compact-sm"
                    color="red"
                    onClick={() => revoke({ community, id: g.id }).then(() => refresh({ requestPolicy: 'network-only' }))}
                  >
                    Revoke
                  </Button>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {data?.relyingPartyGrants.length === 0 && <Text size="sm">No one has consented yet.</Text>}
    </>
  );
}

export function RelyingPartiesPage() {
  const { viewer } = useViewer();
  const community = viewer.community?.slug ?? '';
  const [{ data, error }] = useQuery<{ relyingParties: Party[] }>({ query: PARTIES, variables: { community }, pause: !community });
  const [open, setOpen] = useState<string>();
  return (
    <>
      <PageHeader
        title="Relying parties"
        description="Applications that sign people in through this community’s OpenID Provider. Register and change them with the CLI (meridian rp create, meridian rp update)."
      />
      <ErrorNotice error={error} />
      <Stack>
        {data?.relyingParties.map((p) => (
          <Card withBorder key={p.id}>
            <Group justify="space-between">
              <Title order={2} size="h5">
                {p.name}
              </Title>
              <Group gap="xs">
                <Badge>{p.clientType}</Badge>
                <Badge>consent: {p.consent}</Badge>
              </Group>
            </Group>
            <Text size="sm">
              Client id <Code>{p.clientId}</Code>, claims {p.claims.join(', ') || 'none'}, redirect to{' '}
              {p.redirectUris.join(', ') || 'nowhere'}.
            </Text>
            <Button
              size="compact-sm"
              variant="default"
              w="fit-content"
              mt="xs"
              aria-expanded={open === p.clientId}
              onClick={() => setOpen(open === p.clientId ? undefined : p.clientId)}
            >
              {open === p.clientId ? 'Hide consents' : 'Show consents'}
            </Button>
            {open === p.clientId && <Grants community={community} clientId={p.clientId} />}
          </Card>
        ))}
        {data?.relyingParties.length === 0 && <Text>No relying party is registered.</Text>}
      </Stack>
    </>
  );
}

const STREAMS = gql`
  query ConsoleEventStreams($community: String!) {
    eventStreams(community: $community) { id receiverId receiverKind description status deliveryMethod endpointUrl eventsRequested counts { pending delivered acknowledged failed dead } }
  }
`;
const SET_STATUS = gql`mutation ConsoleStreamStatus($community: String!, $id: ID!, $status: String!) { setEventStreamStatus(community: $community, id: $id, status: $status) { id status } }`;

interface Stream {
  id: string;
  receiverId: string;
  receiverKind: string;
  description: string | null;
  status: string;
  deliveryMethod: string;
  endpointUrl: string | null;
  eventsRequested: string[];
  counts: { pending: number; delivered: number; acknowledged: number; failed: number; dead: number } | null;
}

export function EventStreamsPage() {
  const { viewer, can } = useViewer();
  const community = viewer.community?.slug ?? '';
  const [{ data, error }] = useQuery<{ eventStreams: Stream[] }>({ query: STREAMS, variables: { community }, pause: !community });
  const [changed, setStatus] = useMutation(SET_STATUS);
  return (
    <>
      <PageHeader
        title="Event streams"
        description="Shared Signals (SSF) streams: who receives the community’s change and session events."
      />
      <ErrorNotice error={error ?? changed.error} />
      <Table striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Receiver</Table.Th>
            <Table.Th>Delivery</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Pending</Table.Th>
            <Table.Th>Delivered</Table.Th>
            <Table.Th>Failed</Table.Th>
            {can('sso.manage') && <Table.Th>Change</Table.Th>}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {data?.eventStreams.map((s) => (
            <Table.Tr key={s.id}>
              <Table.Td>
                {s.receiverKind} {s.receiverId}
                {s.description && ` — ${s.description}`}
              </Table.Td>
              <Table.Td>
                {s.deliveryMethod.split('/').at(-1)} {s.endpointUrl}
              </Table.Td>
              <Table.Td>
                <Badge color={s.status === 'enabled' ? 'green' : 'gray'}>{s.status}</Badge>
              </Table.Td>
              <Table.Td>{s.counts?.pending ?? 0}</Table.Td>
              <Table.Td>{s.counts?.delivered ?? 0}</Table.Td>
              <Table.Td>{(s.counts?.failed ?? 0) + (s.counts?.dead ?? 0)}</Table.Td>
              {can('sso.manage') && (
                <Table.Td>
                  <Button
                    size="compact-sm"
                    variant="default"
                    onClick={() => setStatus({ community, id: s.id, status: s.status === 'enabled' ? 'paused' : 'enabled' })}
                  >
                    {s.status === 'enabled' ? 'Pause' : 'Enable'}
                  </Button>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {data?.eventStreams.length === 0 && <Text mt="md">No event stream.</Text>}
    </>
  );
}
