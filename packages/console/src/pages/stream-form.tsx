// The form that creates an event stream (createEventStream): who receives it,
// which events, push or poll, and which changes count.
import { Button, Checkbox, Group, NativeSelect, SimpleGrid, Stack, Textarea, TextInput } from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { gql, useMutation } from 'urql';
import { errorAt, FormRefusal, lines, refusal } from '../forms.js';

const SCIM = 'urn:ietf:params:scim:event';
const CAEP = 'https://schemas.openid.net/secevent/caep/event-type';
const RISC = 'https://schemas.openid.net/secevent/risc/event-type';

/** The event types a receiver may ask for (packages/core/src/events-streams/stream-config.ts), named for people. */
const EVENTS: readonly [string, string][] = [
  [`${SCIM}:prov:create:notice`, 'Created (notice)'],
  [`${SCIM}:prov:create:full`, 'Created (full resource)'],
  [`${SCIM}:prov:patch:notice`, 'Changed (notice)'],
  [`${SCIM}:prov:patch:full`, 'Changed (full resource)'],
  [`${SCIM}:prov:put:notice`, 'Replaced (notice)'],
  [`${SCIM}:prov:put:full`, 'Replaced (full resource)'],
  [`${SCIM}:prov:delete`, 'Deleted'],
  [`${SCIM}:prov:activate`, 'Activated'],
  [`${SCIM}:prov:deactivate`, 'Deactivated'],
  [`${SCIM}:feed:add`, 'Entered the feed'],
  [`${SCIM}:feed:remove`, 'Left the feed'],
  [`${CAEP}/session-revoked`, 'Session revoked (CAEP)'],
  [`${CAEP}/credential-change`, 'Credential changed (CAEP)'],
  [`${RISC}/account-disabled`, 'Account disabled (RISC)'],
  [`${RISC}/account-purged`, 'Account purged (RISC)'],
];

type Field = 'receiver' | 'tokenId' | 'events' | 'pushUrl' | 'filter' | 'attributes' | 'description';

const PATHS: Record<string, Field> = {
  receiver: 'receiver',
  clientId: 'receiver',
  tokenId: 'tokenId',
  events: 'events',
  events_requested: 'events',
  pushUrl: 'pushUrl',
  delivery: 'pushUrl',
  filter: 'filter',
  attributes: 'attributes',
  description: 'description',
};

const CREATE = gql`
  mutation ConsoleCreateStream($input: CreateEventStreamInput!) {
    createEventStream(input: $input) { id receiverId status }
  }
`;

/** Creates a stream in the community; `parties` are the relying parties it may go to. */
export function StreamForm({
  community,
  parties,
  onSaved,
}: {
  community: string;
  parties: { clientId: string; name: string }[];
  onSaved: () => void;
}) {
  const [receiver, setReceiver] = useState(parties[0] ? `client:${parties[0].clientId}` : 'token');
  const [tokenId, setTokenId] = useState('');
  const [events, setEvents] = useState<string[]>([`${SCIM}:prov:create:notice`, `${SCIM}:prov:patch:notice`, `${SCIM}:prov:delete`]);
  const [pushUrl, setPushUrl] = useState('');
  const [filter, setFilter] = useState('');
  const [attributes, setAttributes] = useState('');
  const [description, setDescription] = useState('');
  const [result, create] = useMutation(CREATE);
  const found = refusal(result.error, PATHS);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const input: Record<string, unknown> = {
      community,
      events,
      pushUrl: pushUrl.trim() || null,
      filter: filter.trim() || null,
      attributes: attributes.trim() ? lines(attributes) : null,
      description: description.trim() || null,
    };
    if (receiver === 'token') input.tokenId = tokenId.trim();
    else input.clientId = receiver.slice('client:'.length);
    const done = await create({ input });
    if (done.data) onSaved();
  };

  return (
    <form onSubmit={submit} noValidate aria-label="New event stream">
      <Stack>
        <FormRefusal message={found.form} title="Not created" />
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <NativeSelect
            label="Receiver"
            value={receiver}
            onChange={(e) => setReceiver(e.currentTarget.value)}
            data={[
              ...parties.map((p) => ({ value: `client:${p.clientId}`, label: `${p.name} (relying party)` })),
              { value: 'token', label: 'A community API token' },
            ]}
            error={errorAt(found, 'receiver')}
          />
          {receiver === 'token' && (
            <TextInput
              label="Token id"
              required
              value={tokenId}
              onChange={(e) => setTokenId(e.currentTarget.value)}
              description="A community token of role relying_party."
              error={errorAt(found, 'tokenId')}
            />
          )}
        </SimpleGrid>
        <Checkbox.Group label="Events" required value={events} onChange={setEvents} error={errorAt(found, 'events')}>
          <SimpleGrid cols={{ base: 1, sm: 3 }} mt="xs">
            {EVENTS.map(([uri, label]) => (
              <Checkbox key={uri} value={uri} label={label} title={uri} />
            ))}
          </SimpleGrid>
        </Checkbox.Group>
        <TextInput
          label="Push to (optional)"
          value={pushUrl}
          onChange={(e) => setPushUrl(e.currentTarget.value)}
          placeholder="https://app.example.com/ssf/events"
          description="The receiver’s endpoint (RFC 8935); empty: the receiver polls (RFC 8936)."
          error={errorAt(found, 'pushUrl')}
        />
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput
            label="Only users and groups matching (optional)"
            value={filter}
            onChange={(e) => setFilter(e.currentTarget.value)}
            placeholder='department eq "Sales"'
            description="A SCIM filter."
            error={errorAt(found, 'filter')}
          />
          <Textarea
            label="Only changes to these attributes (optional)"
            autosize
            value={attributes}
            onChange={(e) => setAttributes(e.currentTarget.value)}
            description="SCIM attribute paths, one per line; empty: every change."
            error={errorAt(found, 'attributes')}
          />
        </SimpleGrid>
        <TextInput
          label="Description (optional)"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
          error={errorAt(found, 'description')}
        />
        <Group justify="flex-end">
          <Button type="submit" loading={result.fetching}>
            Create stream
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
