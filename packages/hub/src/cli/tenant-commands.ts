import type { Command } from 'commander';
import { CLI_PRINCIPAL, cliContext, cliTenant, type JsonFlag, jsonOption, print, requireTenant, withRuntime } from './common.js';

/** `meridian tenant …`: create and list tenants (offices), and their self-service policy. */
export function registerTenantCommands(program: Command): void {
  const tenant = program.command('tenant').description('tenants (offices)');
  tenant
    .command('create')
    .description('create a tenant (an office) in a community; prints its id')
    .requiredOption('--slug <slug>', 'short unique name, e.g. emea')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--community <community>', 'community slug or id')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { slug: string; name: string; community: string }) =>
      withRuntime(async ({ admin }) => {
        const created = await admin.createTenant(CLI_PRINCIPAL, flags, cliContext());
        print(flags, created, `Created tenant ${created.slug} (${created.id}).`);
      }),
    );
  tenant
    .command('list')
    .description("list the tenants, all or one community's: slug, name and id")
    .option('--community <community>', 'only tenants of this community')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { community?: string }) =>
      withRuntime(async ({ admin }) => {
        const page = await admin.listTenants(CLI_PRINCIPAL, { first: 500 }, flags.community);
        print(flags, page.items, page.items.map((t) => `${t.slug}\t${t.name}\t${t.id}`).join('\n') || 'No tenants.');
      }),
    );

  requireTenant(
    tenant.command('policy').description('show or set the self-service policy: the User attributes end users may change through /Me'),
  )
    .option(
      '--self-service <attributes>',
      "comma-separated attribute paths, e.g. phoneNumbers,addresses,name.givenName,password; '' for none",
    )
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant: string; selfService?: string }) =>
      withRuntime(async ({ admin, settings }) => {
        const found = await cliTenant(admin, flags.tenant);
        const policy =
          flags.selfService === undefined
            ? await settings.selfServicePolicyFor(CLI_PRINCIPAL, found)
            : await settings.changeSelfServicePolicy(CLI_PRINCIPAL, found, flags.selfService.split(','), cliContext());
        print(flags, policy, `Self-service for ${found.slug}: ${policy.editableAttributes.join(', ') || '(nothing: /Me is read-only)'}`);
      }),
    );
}
