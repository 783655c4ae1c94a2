import type { ClassType } from 'type-graphql';
import { Field, Int, ObjectType } from 'type-graphql';
import { AccountNode } from './account.js';
import { CommunityNode, GroupNode, MemberNode, PageInfo, TenantNode } from './objects.js';

/** A Relay connection page. */
export interface Connection<T> {
  totalCount: number;
  pageInfo: PageInfo;
  edges: { cursor: string; node: T }[];
}

function connectionOf<T extends object>(node: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field(() => String)
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`)
  class ConnectionType {
    @Field(() => Int)
    totalCount!: number;

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => [Edge])
    edges!: Edge[];
  }
  return ConnectionType;
}

export const CommunityConnection = connectionOf(CommunityNode, 'Community');
export const TenantConnection = connectionOf(TenantNode, 'Tenant');
export const AccountConnection = connectionOf(AccountNode, 'Account');
export const GroupConnection = connectionOf(GroupNode, 'Group');
export const GroupMemberConnection = connectionOf(MemberNode, 'GroupMember');
