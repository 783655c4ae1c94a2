import { readFile } from 'node:fs/promises';
import { DELIVERY_POLL, DELIVERY_PUSH, type EventStream, STREAM_EVENT, type StreamReceiver, type StreamSummary } from '@meridian/core';
import type { Command } from 'commander';
import { CLI_PRINCIPAL, CliUsageError, cliContext, type JsonFlag, jsonOption, print, withRuntime } from './common.js';

interface StreamFlags extends JsonFlag {
  community: string;
  clientId?: string;
  tokenId?: string;
  push?: string;
  authorizationFile?: string;
  events?: string;
  filter?: string;
  attributes?: string;
  description?: string;
}

/** An event type by its full URI, or by a short name: `prov:patch:notice`, `feed:add`, `session-revoked`, `account-disabled`. */
function eventUri(name: string): string {
  if (name.includes('://') || name.startsWith('urn:')) return name;
  if (/^(prov|feed|misc):/.test(name)) return `urn:ietf:params:scim:event:${name}`;
  const found = Object.values(STREAM_EVENT).find((uri) => uri.endsWith(`/${name}`));
  if (!found) throw new CliUsageError(`Unknown event type '${name}'.`);
  return found;
}

/** What `--json` shows of a stream: its SSF configuration members, its status and counts. */
function view(summary: StreamSummary | { stream: EventStream; counts?: undefined }): Record<string, unknown> {
  const { stream, counts } = summary;
  return {
    stream_id: stream.id,
    receiver: stream.receiver,
    description: stream.description,
    delivery: {
      method: stream.delivery.method === 'push' ? DELIVERY_PUSH : DELIVERY_POLL,
      ...(stream.delivery.endpointUrl ? { endpoint_url: stream.delivery.endpointUrl } : {}),
    },
    events_requested: stream.eventsRequested,
    filter: stream.filter,
    attributes: stream.attributes,
    status: stream.status,
    ...(counts ? { counts } : {}),
  };
}

function describe(summary: StreamSummary): string {
  const { stream, counts } = summary;
  const who = stream.receiver.kind === 'client' ? `client ${stream.receiver.clientId}` : `token ${stream.receiver.tokenId}`;
  const where = stream.delivery.method === 'push' ? `push ${stream.delivery.endpointUrl}` : 'poll';
  return `${stream.id}\t${stream.status}\t${who}\t${where}\tpending ${counts.pending}, delivered ${counts.delivered}, acknowledged ${counts.acknowledged}, failed ${counts.failed}, dead ${counts.dead}`;
}

const community = (command: Command) => command.requiredOption('--community <community>', 'community slug or id').addOption(jsonOption());

/** `meridian stream …`: Shared Signals streams of a community's transmitter (docs/events.md). */
export function registerStreamCommands(program: Command): void {
  const stream = program
    .command('stream')
    .description("event streams: SCIM events (RFC 9967) as SETs to a community's receivers (docs/events.md)");
  community(
    stream
      .command('create')
      .description('create a stream for a relying party (--client-id) or a community token (--token-id)')
      .option('--client-id <id>', 'the relying party that receives it (it polls with its client credentials)')
      .option(
        '--token-id <id>',
        'the community API token that receives it (one that reads the directory: hr_reader, hr_provider, community_admin)',
      )
      .option('--push <url>', 'push SETs to this URL (RFC 8935); without it the receiver polls (RFC 8936)')
      .option('--authorization-file <file>', 'a file holding the Authorization header value sent with each push (sealed at rest)')
      .requiredOption(
        '--events <list>',
        'event types, comma separated: URIs or short names (prov:patch:notice, feed:add, account-disabled, …)',
      )
      .option('--filter <filter>', 'a SCIM filter: only Users and Groups matching it count')
      .option('--attributes <list>', 'attribute paths, comma separated: only changes touching them count')
      .option('--description <text>', 'what the stream is for'),
  ).action(async (flags: StreamFlags) =>
    withRuntime(async (runtime) => {
      if ((flags.clientId === undefined) === (flags.tokenId === undefined)) throw new CliUsageError('Give --client-id or --token-id.');
      const receiver: StreamReceiver =
        flags.clientId !== undefined ? { kind: 'client', clientId: flags.clientId } : { kind: 'token', tokenId: flags.tokenId as string };
      const authorization = flags.authorizationFile ? (await readFile(flags.authorizationFile, 'utf8')).trim() : undefined;
      const made = await runtime.streams.service.adminCreate(
        CLI_PRINCIPAL,
        flags.community,
        receiver,
        {
          delivery: flags.push
            ? { method: DELIVERY_PUSH, endpoint_url: flags.push, ...(authorization ? { authorization_header: authorization } : {}) }
            : { method: DELIVERY_POLL },
          events_requested: (flags.events ?? '').split(',').map((e) => eventUri(e.trim())),
          ...(flags.filter !== undefined ? { filter: flags.filter } : {}),
          ...(flags.attributes !== undefined ? { attributes: flags.attributes.split(',').map((a) => a.trim()) } : {}),
          ...(flags.description !== undefined ? { description: flags.description } : {}),
        },
        cliContext(),
      );
      print(flags, view({ stream: made }), `Created stream ${made.id}.`);
    }),
  );
  community(stream.command('list').description('list the streams of a community with their delivery counts')).action(
    async (flags: StreamFlags) =>
      withRuntime(async (runtime) => {
        const list = await runtime.streams.service.adminList(CLI_PRINCIPAL, flags.community);
        print(flags, list.map(view), list.map(describe).join('\n') || 'No streams.');
      }),
  );
  community(stream.command('status').description('a stream, its status and its counts').argument('<stream-id>', 'the stream_id')).action(
    async (streamId: string, flags: StreamFlags) =>
      withRuntime(async (runtime) => {
        const found = await runtime.streams.service.adminGet(CLI_PRINCIPAL, flags.community, streamId);
        print(flags, view(found), describe(found));
      }),
  );
  for (const [name, status, said] of [
    ['pause', 'paused', 'Paused: its events are kept and delivered, in order, once resumed.'],
    ['resume', 'enabled', 'Resumed.'],
  ] as const) {
    community(stream.command(name).description(`${name} a stream`).argument('<stream-id>', 'the stream_id')).action(
      async (streamId: string, flags: StreamFlags) =>
        withRuntime(async (runtime) => {
          const changed = await runtime.streams.service.adminSetStatus(CLI_PRINCIPAL, flags.community, streamId, status, cliContext());
          print(flags, view({ stream: changed }), `${changed.id}: ${said}`);
        }),
    );
  }
  community(
    stream.command('delete').description('delete a stream and its undelivered SETs').argument('<stream-id>', 'the stream_id'),
  ).action(async (streamId: string, flags: StreamFlags) =>
    withRuntime(async (runtime) => {
      const deleted = await runtime.streams.service.adminDelete(CLI_PRINCIPAL, flags.community, streamId, cliContext());
      print(flags, view({ stream: deleted }), `Deleted stream ${deleted.id}.`);
    }),
  );
}
