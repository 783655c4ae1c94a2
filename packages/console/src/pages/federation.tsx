// The community's relying parties (applications signing in through Meridian) and its event streams (Shared Signals).
// Who may manage single sign-on registers, changes and deletes them here, and rotates a client's secret.
import { Alert, Badge, Button, Card, Code, Group, Modal, Stack, Table, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { gql, useMutation, useQuery } from 'urql';
import { ConfirmDialog, SecretOnce, useHeld } from '../forms.js';
import { ErrorNotice, PageHeader, When } from '../ui.js';
import { useViewer } from '../viewer.js';
import { type EditedParty, PARTY_FIELDS, type Registered, RelyingPartyForm } from './relying-party-form.js';
import { StreamForm } from './stream-form.js';

const PARTIES = gql`
  query ConsoleRelyingParties($community: String!) {
    relyingParties(community: $community) { ${PARTY_FIELDS} }
  }
`;
const ROTATE = gql`
  mutation ConsoleRotateSecret($community: String!, $clientId: String!) {
    rotateRelyingPartySecret(community: $community, clientId: $clientId) { clientSecret relyingParty { id clientId } }
  }
`;
const DELETE_PARTY = gql`
  mutation ConsoleDeleteRelyingParty($community: String!, $clientId: String!) {
    deleteRelyingParty(community: $community, clientId: $clientId) { id clientId }
  }
`;
const GRANTS = gql`
  query ConsoleRelyingPartyGrants($community: String!, $clientId: String!) {
    relyingPartyGrants(community: $community, clientId: $clientId) { id personId scopes claims createdAt expiresAt }
  }
`;
const REVOKE = gql`mutation ConsoleRevokeGrant($community: String!, $id: ID!) { revokeGrant(community: $community, id: $id) }`;

interface Party extends EditedParty {
  id: string;
  createdAt: string;
}

/** A secret to show once: a new registration's or a rotated one. */
interface ShownSecret {
  title: string;
  clientId: string;
  secret: string;
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
  const { viewer, can } = useViewer();
  const manage = can('sso.manage');
  const community = viewer.community?.slug ?? '';
  const [{ data, error }, refresh] = useQuery<{ relyingParties: Party[] }>({ query: PARTIES, variables: { community }, pause: !community });
  const [open, setOpen] = useState<string>();
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Party>();
  const [rotating, setRotating] = useState<Party>();
  const [deleting, setDeleting] = useState<Party>();
  const [shown, setShown] = useState<ShownSecret>();
  const [notice, setNotice] = useState<string>();
  const [rotated, rotate] = useMutation<{ rotateRelyingPartySecret: { clientSecret: string | null } }>(ROTATE);
  const [deleted, remove] = useMutation(DELETE_PARTY);
  const reload = () => refresh({ requestPolicy: 'network-only' });
  const edited = useHeld(editing);
  const registered = (party: Registered) => {
    setCreating(false);
    reload();
    if (party.clientSecret) setShown({ title: `${party.name} is registered`, clientId: party.clientId, secret: party.clientSecret });
    else setNotice(`${party.name} is registered as a public client (client id ${party.clientId}); it has no secret.`);
  };
  return (
    <>
      <PageHeader
        title="Relying parties"
        description="Applications that sign people in through this community’s OpenID Provider."
        actions={manage && <Button onClick={() => setCreating(true)}>Register a relying party</Button>}
      />
      <ErrorNotice error={error} />
      {notice && (
        <Alert color="green" role="status" mb="md">
          {notice}
        </Alert>
      )}
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
                {p.clientCredentials && <Badge>client credentials</Badge>}
              </Group>
            </Group>
            <Text size="sm">
              Client id <Code>{p.clientId}</Code>, claims {p.claims.join(', ') || 'none'}
              {p.optionalClaims.length > 0 && ` (optional: ${p.optionalClaims.join(', ')})`}, redirect to{' '}
              {p.redirectUris.join(', ') || 'nowhere'}, {p.subjectType} subject identifiers, attributes kept at most {p.maxCacheSeconds}{' '}
              seconds.
            </Text>
            <Group gap="xs" mt="xs">
              <Button
                size="compact-sm"
                variant="default"
                aria-expanded={open === p.clientId}
                onClick={() => setOpen(open === p.clientId ? undefined : p.clientId)}
              >
                {open === p.clientId ? 'Hide consents' : 'Show consents'}
              </Button>
              {manage && (
                <>
                  <Button size="compact-sm" variant="default" onClick={() => setEditing(p)} aria-label={`Edit ${p.name}`}>
                    Edit
                  </Button>
                  {p.clientType !== 'public' && (
                    <Button size="compact-sm" variant="default" onClick={() => setRotating(p)} aria-label={`Rotate secret of ${p.name}`}>
                      Rotate secret
                    </Button>
                  )}
                  <Button size="compact-sm" variant="outline" color="red" onClick={() => setDeleting(p)} aria-label={`Delete ${p.name}`}>
                    Delete
                  </Button>
                </>
              )}
            </Group>
            {open === p.clientId && <Grants community={community} clientId={p.clientId} />}
          </Card>
        ))}
        {data?.relyingParties.length === 0 && <Text>No relying party is registered.</Text>}
      </Stack>
      <Modal
        opened={creating}
        onClose={() => setCreating(false)}
        title="Register a relying party"
        size="xl"
        closeButtonProps={{ 'aria-label': 'Close' }}
      >
        <RelyingPartyForm community={community} onSaved={registered} />
      </Modal>
      <Modal
        opened={editing !== undefined}
        onClose={() => setEditing(undefined)}
        title={`Change ${edited?.name ?? ''}`}
        size="xl"
        closeButtonProps={{ 'aria-label': 'Close' }}
      >
        {editing && (
          <RelyingPartyForm
            community={community}
            party={editing}
            onSaved={(saved) => {
              setEditing(undefined);
              setNotice(`${saved.name} is saved.`);
              reload();
            }}
          />
        )}
      </Modal>
      <ConfirmDialog
        opened={rotating !== undefined}
        title={`Rotate the secret of ${rotating?.name ?? ''}?`}
        confirm="Rotate the secret"
        busy={rotated.fetching}
        error={rotated.error}
        onClose={() => setRotating(undefined)}
        onConfirm={async () => {
          if (!rotating) return;
          const done = await rotate({ community, clientId: rotating.clientId });
          const secret = done.data?.rotateRelyingPartySecret.clientSecret;
          if (secret) {
            setShown({ title: `New secret of ${rotating.name}`, clientId: rotating.clientId, secret });
            setRotating(undefined);
          }
        }}
      >
        <Text>The current secret stops working at once: the application cannot sign anyone in until it is given the new one.</Text>
      </ConfirmDialog>
      <ConfirmDialog
        opened={deleting !== undefined}
        title={`Delete ${deleting?.name ?? ''}?`}
        confirm="Delete the relying party"
        busy={deleted.fetching}
        error={deleted.error}
        onClose={() => setDeleting(undefined)}
        onConfirm={async () => {
          if (!deleting) return;
          const done = await remove({ community, clientId: deleting.clientId });
          if (done.data) {
            setNotice(`${deleting.name} is deleted.`);
            setDeleting(undefined);
            reload();
          }
        }}
      >
        <Text>
          The application can no longer sign anyone in: its registration, the consents people gave it and its tokens are deleted. Register
          it again to bring it back (with a new client id).
        </Text>
      </ConfirmDialog>
      <SecretOnce secret={shown?.secret} title={shown?.title ?? ''} label="Client secret" onClose={() => setShown(undefined)}>
        <Text size="sm">
          Client id <Code>{shown?.clientId}</Code>
        </Text>
      </SecretOnce>
    </>
  );
}

const STREAMS = gql`
  query ConsoleEventStreams($community: String!) {
    eventStreams(community: $community) { id receiverId receiverKind description status deliveryMethod endpointUrl eventsRequested counts { pending delivered acknowledged failed dead } }
  }
`;
const DELETE_STREAM = gql`mutation ConsoleDeleteStream($community: String!, $id: ID!) { deleteEventStream(community: $community, id: $id) { id } }`;
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
  const manage = can('sso.manage');
  const [{ data, error }, refresh] = useQuery<{ eventStreams: Stream[] }>({ query: STREAMS, variables: { community }, pause: !community });
  const [parties] = useQuery<{ relyingParties: Party[] }>({ query: PARTIES, variables: { community }, pause: !community || !manage });
  const [changed, setStatus] = useMutation(SET_STATUS);
  const [deleted, remove] = useMutation(DELETE_STREAM);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Stream>();
  const [notice, setNotice] = useState<string>();
  const reload = () => refresh({ requestPolicy: 'network-only' });
  const nameOf = (s: Stream) => `${s.receiverKind} ${s.receiverId}${s.description ? ` (${s.description})` : ''}`;
  return (
    <>
      <PageHeader
        title="Event streams"
        description="Shared Signals (SSF) streams: who receives the community’s change and session events."
        actions={manage && <Button onClick={() => setCreating(true)}>New stream</Button>}
      />
      <ErrorNotice error={error ?? changed.error} />
      {notice && (
        <Alert color="green" role="status" mb="md">
          {notice}
        </Alert>
      )}
      <Table striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Receiver</Table.Th>
            <Table.Th>Delivery</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Pending</Table.Th>
            <Table.Th>Delivered</Table.Th>
            <Table.Th>Failed</Table.Th>
            {manage && <Table.Th>Change</Table.Th>}
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
              {manage && (
                <Table.Td>
                  <Group gap="xs" wrap="nowrap">
                    <Button
                      size="compact-sm"
                      variant="default"
                      onClick={() => setStatus({ community, id: s.id, status: s.status === 'enabled' ? 'paused' : 'enabled' })}
                    >
                      {s.status === 'enabled' ? 'Pause' : 'Enable'}
                    </Button>
                    <Button
                      size="compact-sm"
                      variant="default"
                      onClick={() => setDeleting(s)}
                      aria-label={`Delete the stream of ${nameOf(s)}`}
                    >
                      Delete
                    </Button>
                  </Group>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {data?.eventStreams.length === 0 && <Text mt="md">No event stream.</Text>}
      <Modal
        opened={creating}
        onClose={() => setCreating(false)}
        title="New event stream"
        size="xl"
        closeButtonProps={{ 'aria-label': 'Close' }}
      >
        <StreamForm
          community={community}
          parties={parties.data?.relyingParties ?? []}
          onSaved={() => {
            setCreating(false);
            setNotice('The stream is created.');
            reload();
          }}
        />
      </Modal>
      <ConfirmDialog
        opened={deleting !== undefined}
        title="Delete this stream?"
        confirm="Delete the stream"
        busy={deleted.fetching}
        error={deleted.error}
        onClose={() => setDeleting(undefined)}
        onConfirm={async () => {
          if (!deleting) return;
          const done = await remove({ community, id: deleting.id });
          if (done.data) {
            setNotice(`The stream of ${nameOf(deleting)} is deleted.`);
            setDeleting(undefined);
            reload();
          }
        }}
      >
        <Text>
          {deleting && nameOf(deleting)} stops receiving events: the stream and the events not yet delivered or polled are deleted. To stop
          for a while instead, pause it.
        </Text>
      </ConfirmDialog>
    </>
  );
}
