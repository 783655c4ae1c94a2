import { CONSOLE_ROLES, type ConsoleRoleGrant } from '@meridian/core';
import type { Command } from 'commander';
import { CLI_PRINCIPAL, cliContext, type JsonFlag, jsonOption, print, withRuntime } from './common.js';

function line(grant: ConsoleRoleGrant): string {
  return `${grant.id}\t${grant.role}\t${grant.level}\t${grant.userName}\t${grant.createdAt.toISOString()}\t${grant.createdBy}`;
}

/** `meridian console …`: the admin console's roles of office accounts (docs/console.md, ADR 0034). */
export function registerConsoleCommands(program: Command): void {
  const command = program.command('console').description("the admin console's roles of office accounts (docs/console.md)");
  command
    .command('grant')
    .description('grant an office account a console role; it acts at the role’s level (its tenant, its community, or the platform)')
    .requiredOption('--tenant <tenant>', "the account's tenant: <community>/<slug>, a slug, or an id")
    .requiredOption('--user <user>', "the account's userName or id")
    .requiredOption('--role <role>', `a console role: ${CONSOLE_ROLES.join(', ')}`)
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant: string; user: string; role: string }) =>
      withRuntime(async ({ consoleRoles }) => {
        const grant = await consoleRoles.service.grant(
          CLI_PRINCIPAL,
          { tenant: flags.tenant, user: flags.user, role: flags.role },
          cliContext(),
        );
        print(flags, grant, `Granted ${grant.role} to ${grant.userName} (grant ${grant.id}).`);
      }),
    );
  command
    .command('revoke')
    .description('revoke a console role grant by id; requests acting as it are refused at once')
    .argument('<id>', 'grant id (console list shows it)')
    .addOption(jsonOption())
    .action(async (id: string, flags: JsonFlag) =>
      withRuntime(async ({ consoleRoles }) => {
        const revoked = await consoleRoles.service.revoke(CLI_PRINCIPAL, id, cliContext());
        print(flags, revoked, `Revoked ${revoked.role} of ${revoked.userName} (grant ${revoked.id}).`);
      }),
    );
  command
    .command('list')
    .description('list console role grants: id, role, level, userName, granted at, granted by (every grant when neither option is given)')
    .option('--tenant <tenant>', "a tenant's accounts: <community>/<slug>, a slug, or an id")
    .option('--community <community>', "the accounts of a community's tenants: slug or id")
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant?: string; community?: string }) =>
      withRuntime(async ({ consoleRoles }) => {
        const grants = await consoleRoles.service.list(CLI_PRINCIPAL, { tenant: flags.tenant ?? null, community: flags.community ?? null });
        print(flags, grants, grants.map(line).join('\n') || 'No console role grants.');
      }),
    );
}
