import { ROLES } from '@meridian/core';
import type { Command } from 'commander';
import { CLI_PRINCIPAL, CliUsageError, cliContext, type JsonFlag, jsonOption, parseWholeNumber, print, withRuntime } from './common.js';

interface IssueFlags extends JsonFlag {
  tenant?: string;
  community?: string;
  platform?: boolean;
  role?: string;
  scopes?: string;
  user?: string;
  name?: string;
  expiresInDays?: number;
}

/** `meridian token …`: issue, list and revoke API tokens (docs/security.md). */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens');
  token
    .command('create')
    .description('issue a token for a role or explicit scopes (docs/security.md lists what each allows)')
    .option('--tenant <tenant>', 'tenant slug or id')
    .option('--community <community>', 'community slug or id: a community token (community_admin, hr_reader, relying_party)')
    .option('--platform', 'a platform admin token instead of a tenant token')
    .option('--role <role>', `a role: ${ROLES.join(', ')}`)
    .option(
      '--scopes <scopes>',
      'instead of --role, comma-separated: scim:read,scim:write,graphql:read,graphql:write,directory:read,audit:read; scim:me with --user; admin for platform tokens',
    )
    .option('--user <user>', "an end user's token for /Me: the id or userName of their User (role end_user)")
    .option('--name <name>', 'label shown in token lists')
    .option('--expires-in-days <days>', 'expire after this many whole days, 1 to 3650 (default: never)', parseWholeNumber)
    .addOption(jsonOption())
    .action(async (flags: IssueFlags) => {
      if ([flags.platform, flags.tenant, flags.community].filter(Boolean).length !== 1) {
        throw new CliUsageError('Give one of --tenant <slug>, --community <slug>, or --platform for a platform token.');
      }
      if (!flags.role === !flags.scopes) throw new CliUsageError('Give --role <role> or --scopes <scopes>.');
      await withRuntime(async ({ admin }) => {
        const issued = await admin.issueToken(
          CLI_PRINCIPAL,
          {
            tenant: flags.tenant ?? null,
            community: flags.community ?? null,
            ...(flags.role ? { role: flags.role } : {}),
            ...(flags.scopes ? { scopes: flags.scopes } : {}),
            ...(flags.user ? { user: flags.user } : {}),
            ...(flags.name ? { name: flags.name } : {}),
            ...(flags.expiresInDays !== undefined ? { expiresInDays: flags.expiresInDays } : {}),
          },
          cliContext(),
        );
        print(
          flags,
          { token: issued.token, ...issued.record },
          `Token (shown once, store it now):\n${issued.token}\nid ${issued.record.id}, ${issued.record.role ? `role ${issued.record.role}, ` : ''}scopes ${issued.record.scopes.join(',')}`,
        );
      });
    });
  token
    .command('list')
    .description("list a tenant's, a community's or the platform's tokens: id, prefix, scopes, state (never the secret)")
    .option('--tenant <tenant>', 'tenant slug or id (platform tokens when neither this nor --community is given)')
    .option('--community <community>', "community slug or id: the community's own tokens")
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant?: string; community?: string }) =>
      withRuntime(async ({ admin }) => {
        const tokens = await admin.listTokens(CLI_PRINCIPAL, { tenant: flags.tenant, community: flags.community });
        print(
          flags,
          tokens,
          tokens
            .map(
              (t) =>
                `${t.id}\t${t.prefix}…\t${t.scopes.join(',')}\t${t.revokedAt ? 'revoked' : t.expiresAt && t.expiresAt < new Date() ? 'expired' : 'active'}\t${t.name}`,
            )
            .join('\n') || 'No tokens.',
        );
      }),
    );
  token
    .command('revoke')
    .description('revoke a token by id; it stops working at once')
    .argument('<id>', 'token id')
    .addOption(jsonOption())
    .action(async (id: string, flags: JsonFlag) =>
      withRuntime(async ({ admin }) => {
        const revoked = await admin.revokeToken(CLI_PRINCIPAL, id, cliContext());
        print(flags, revoked, `Revoked token ${revoked.id}.`);
      }),
    );
}
