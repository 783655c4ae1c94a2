import 'reflect-metadata';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AccountResolver, ReplicationTargetResolver } from './resolvers/account-resolver.js';
import { CommunityResolver, TenantResolver, TokenListResolver } from './resolvers/admin-resolver.js';
import { AuditResolver } from './resolvers/audit-resolver.js';
import { ConsoleRoleResolver, ViewerResolver } from './resolvers/console-resolver.js';
import { DirectoryExportResolver } from './resolvers/directory-export-resolver.js';
import { GroupResolver } from './resolvers/group-resolver.js';
import { HrResolver } from './resolvers/hr-resolver.js';
import { TrustedIssuerResolver } from './resolvers/issuer-resolver.js';
import { JitTargetResolver } from './resolvers/jit-resolver.js';
import { OffboardingResolver } from './resolvers/offboarding-resolver.js';
import { AccountPersonResolver, LinkedAccountResolver, PeopleResolver } from './resolvers/people-resolver.js';
import { ReplicationResolver } from './resolvers/replication-resolver.js';
import { TenantSettingsResolver } from './resolvers/settings-resolver.js';
import { InboundSourceResolver } from './resolvers/source-resolver.js';
import { AccountGrantsResolver, RelyingPartyResolver } from './resolvers/sso-resolver.js';
import { EventStreamResolver } from './resolvers/stream-resolver.js';
import { CommunityThemeResolver } from './resolvers/theme-resolver.js';

let built: Promise<GraphQLSchema> | undefined;

/** Builds the GraphQL schema from the resolvers (once per process). */
export function buildMeridianSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers: [
      CommunityResolver,
      TenantResolver,
      TokenListResolver,
      TenantSettingsResolver,
      TrustedIssuerResolver,
      AuditResolver,
      ReplicationResolver,
      AccountResolver,
      HrResolver,
      GroupResolver,
      ReplicationTargetResolver,
      PeopleResolver,
      AccountPersonResolver,
      DirectoryExportResolver,
      LinkedAccountResolver,
      RelyingPartyResolver,
      ConsoleRoleResolver,
      ViewerResolver,
      JitTargetResolver,
      AccountGrantsResolver,
      OffboardingResolver,
      EventStreamResolver,
      InboundSourceResolver,
      CommunityThemeResolver,
    ],
    validate: false,
  });
  return built;
}

/** The SDL checked in at `packages/graphql/schema.graphql`. */
export async function printMeridianSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await buildMeridianSchema()))}\n`;
}
