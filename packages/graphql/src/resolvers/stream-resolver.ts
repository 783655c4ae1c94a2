import {
  DELIVERY_POLL,
  DELIVERY_PUSH,
  type EventStream,
  type EventStreamService,
  MeridianError,
  parseStreamStatus,
  type StreamReceiver,
  type StreamSummary,
} from '@meridian/core';
import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { GraphqlContext } from '../context.js';
import { contextOf } from './request-context.js';

@ObjectType('EventStreamCounts', { description: "A stream's SETs by delivery state." })
class EventStreamCountsNode {
  @Field(() => Int, { description: 'Not yet pushed, or not yet handed out by a poll.' })
  pending!: number;

  @Field(() => Int, { description: 'Handed out by a poll and not yet acknowledged.' })
  delivered!: number;

  @Field(() => Int)
  acknowledged!: number;

  @Field(() => Int, { description: 'Refused by the receiver (a push answered 400, or a poll reported it in setErrs).' })
  failed!: number;

  @Field(() => Int, { description: 'Pushes that outlasted their attempts.' })
  dead!: number;
}

@ObjectType('EventStream', { description: "A Shared Signals stream of a community's transmitter (docs/events.md)." })
class EventStreamNode {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  communityId!: string;

  @Field(() => String, { description: 'client (a relying party) or token (a community API token).' })
  receiverKind!: string;

  @Field(() => String, { description: 'The client_id, or the API token id.' })
  receiverId!: string;

  @Field(() => String, { description: `${DELIVERY_PUSH} (push) or ${DELIVERY_POLL} (poll).` })
  deliveryMethod!: string;

  @Field(() => String, { nullable: true })
  endpointUrl!: string | null;

  @Field(() => [String])
  eventsRequested!: string[];

  @Field(() => String, { nullable: true, description: 'A SCIM filter: only Users and Groups matching it count.' })
  filter!: string | null;

  @Field(() => [String], { description: 'Attribute paths: only changes touching them count (none: every change).' })
  attributes!: string[];

  @Field(() => String, { description: 'enabled, paused or disabled.' })
  status!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => EventStreamCountsNode, { nullable: true })
  counts!: EventStreamCountsNode | null;
}

@InputType('CreateEventStreamInput')
class CreateEventStreamInput {
  @Field(() => String)
  community!: string;

  @Field(() => String, { nullable: true, description: 'The relying party that receives it (it authenticates with client credentials).' })
  clientId?: string;

  @Field(() => ID, { nullable: true, description: 'The community API token (role relying_party) that receives it.' })
  tokenId?: string;

  @Field(() => String, { nullable: true, description: 'Push to this URL (RFC 8935); without it the receiver polls (RFC 8936).' })
  pushUrl?: string;

  @Field(() => [String], { description: 'Event type URIs (RFC 9967, CAEP, RISC).' })
  events!: string[];

  @Field(() => String, { nullable: true })
  filter?: string;

  @Field(() => [String], { nullable: true })
  attributes?: string[];

  @Field(() => String, { nullable: true })
  description?: string;
}

function service(ctx: GraphqlContext): EventStreamService {
  if (!ctx.services.eventStreams) throw new MeridianError('UNAVAILABLE', 'Event streams are not available on this hub.');
  return ctx.services.eventStreams;
}

function toNode(summary: StreamSummary | { stream: EventStream; counts?: undefined }): EventStreamNode {
  const { stream, counts } = summary;
  return {
    id: stream.id,
    communityId: stream.communityId,
    receiverKind: stream.receiver.kind,
    receiverId: stream.receiver.kind === 'client' ? stream.receiver.clientId : stream.receiver.tokenId,
    deliveryMethod: stream.delivery.method === 'push' ? DELIVERY_PUSH : DELIVERY_POLL,
    endpointUrl: stream.delivery.endpointUrl,
    eventsRequested: stream.eventsRequested,
    filter: stream.filter,
    attributes: stream.attributes,
    status: stream.status,
    description: stream.description,
    counts: counts ?? null,
  };
}

/** A community's event streams (issue 17): read with `sso.read`, changed with `sso.manage`. */
@Resolver(() => EventStreamNode)
export class EventStreamResolver {
  @Query(() => [EventStreamNode], { description: "The community's event streams with their delivery counts." })
  async eventStreams(@Ctx() ctx: GraphqlContext, @Arg('community', () => String) community: string) {
    return (await service(ctx).adminList(ctx.principal, community)).map(toNode);
  }

  @Query(() => EventStreamNode, { description: 'One event stream with its delivery counts.' })
  async eventStream(@Ctx() ctx: GraphqlContext, @Arg('community', () => String) community: string, @Arg('id', () => ID) id: string) {
    return toNode(await service(ctx).adminGet(ctx.principal, community, id));
  }

  @Mutation(() => EventStreamNode, { description: 'Creates a stream for a relying party or a community token.' })
  async createEventStream(@Ctx() ctx: GraphqlContext, @Arg('input', () => CreateEventStreamInput) input: CreateEventStreamInput) {
    if ((input.clientId == null) === (input.tokenId == null)) {
      throw new MeridianError('INVALID_INPUT', 'Give clientId or tokenId.', { field: 'clientId' });
    }
    const receiver: StreamReceiver =
      input.clientId != null ? { kind: 'client', clientId: input.clientId } : { kind: 'token', tokenId: input.tokenId as string };
    const stream = await service(ctx).adminCreate(
      ctx.principal,
      input.community,
      receiver,
      {
        delivery: input.pushUrl != null ? { method: DELIVERY_PUSH, endpoint_url: input.pushUrl } : { method: DELIVERY_POLL },
        events_requested: input.events,
        ...(input.filter != null ? { filter: input.filter } : {}),
        ...(input.attributes != null ? { attributes: input.attributes } : {}),
        ...(input.description != null ? { description: input.description } : {}),
      },
      contextOf(ctx),
    );
    return toNode({ stream });
  }

  @Mutation(() => EventStreamNode, { description: 'Pauses (events kept), resumes (enabled) or disables (events dropped) a stream.' })
  async setEventStreamStatus(
    @Ctx() ctx: GraphqlContext,
    @Arg('community', () => String) community: string,
    @Arg('id', () => ID) id: string,
    @Arg('status', () => String) status: string,
  ) {
    return toNode({ stream: await service(ctx).adminSetStatus(ctx.principal, community, id, parseStreamStatus(status), contextOf(ctx)) });
  }

  @Mutation(() => EventStreamNode, { description: 'Deletes a stream and its undelivered SETs.' })
  async deleteEventStream(@Ctx() ctx: GraphqlContext, @Arg('community', () => String) community: string, @Arg('id', () => ID) id: string) {
    return toNode({ stream: await service(ctx).adminDelete(ctx.principal, community, id, contextOf(ctx)) });
  }
}
