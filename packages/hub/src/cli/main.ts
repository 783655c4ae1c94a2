import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { isMeridianError, type Principal, type RequestContext } from '@meridian/core';
import { Command, Option } from 'commander';
import { ConfigError, type HubConfig, loadConfig, renderConfigurationReference } from '../config/config.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';
import { serve } from './serve.js';

/** The CLI acts as the local platform administrator: it has direct access to the database. */
const CLI_PRINCIPAL: Principal = { kind: 'platform', tokenId: 'cli', scopes: ['admin'] };

function cliContext(): RequestContext {
  return { actor: { type: 'cli', id: userInfo().username }, requestId: `cli-${randomUUID()}` };
}

interface JsonFlag {
  json?: boolean;
}

function print(flags: JsonFlag, value: unknown, human: string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
}

/** Runs one CLI command against the database, whether the hub is running or not. */
async function withRuntime<T>(work: (runtime: Runtime, config: HubConfig) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const runtime = await openRuntime(config, 'client');
  try {
    return await work(runtime, config);
  } finally {
    await runtime.close();
  }
}

const json = () => new Option('--json', 'print machine-readable JSON');

/** Builds the `meridian` command tree. */
export function buildCli(): Command {
  const program = new Command('meridian').description('Meridian identity hub').showHelpAfterError();

  program
    .command('serve')
    .description('start the hub (SCIM, GraphQL, health)')
    .addOption(new Option('--role <role>', 'processes to run').choices(['api', 'worker', 'all']).default('all'))
    .action(async (flags: { role: 'api' | 'worker' | 'all' }) => serve(loadConfig(), flags.role));

  program
    .command('migrate')
    .description('apply pending database migrations')
    .addOption(json())
    .action(async (flags: JsonFlag) =>
      withRuntime(async (runtime) => {
        print(
          flags,
          { applied: runtime.applied },
          runtime.applied.length ? `Applied: ${runtime.applied.join(', ')}` : 'Database is up to date.',
        );
      }),
    );

  const community = program.command('community').description('communities of interest');
  community
    .command('create')
    .requiredOption('--slug <slug>', 'short unique name, e.g. yourcoi')
    .requiredOption('--name <name>', 'display name')
    .addOption(json())
    .action(async (flags: JsonFlag & { slug: string; name: string }) =>
      withRuntime(async ({ admin }) => {
        const created = await admin.createCommunity(CLI_PRINCIPAL, { slug: flags.slug, name: flags.name }, cliContext());
        print(flags, created, `Created community ${created.slug} (${created.id}).`);
      }),
    );
  community
    .command('list')
    .addOption(json())
    .action(async (flags: JsonFlag) =>
      withRuntime(async ({ admin }) => {
        const page = await admin.listCommunities(CLI_PRINCIPAL, { first: 500 });
        print(flags, page.items, page.items.map((c) => `${c.slug}\t${c.name}\t${c.id}`).join('\n') || 'No communities.');
      }),
    );

  const tenant = program.command('tenant').description('tenants (offices)');
  tenant
    .command('create')
    .requiredOption('--slug <slug>', 'short unique name, e.g. emea')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--community <community>', 'community slug or id')
    .addOption(json())
    .action(async (flags: JsonFlag & { slug: string; name: string; community: string }) =>
      withRuntime(async ({ admin }) => {
        const created = await admin.createTenant(CLI_PRINCIPAL, flags, cliContext());
        print(flags, created, `Created tenant ${created.slug} (${created.id}).`);
      }),
    );
  tenant
    .command('list')
    .option('--community <community>', 'only tenants of this community')
    .addOption(json())
    .action(async (flags: JsonFlag & { community?: string }) =>
      withRuntime(async ({ admin }) => {
        const page = await admin.listTenants(CLI_PRINCIPAL, { first: 500 }, flags.community);
        print(flags, page.items, page.items.map((t) => `${t.slug}\t${t.name}\t${t.id}`).join('\n') || 'No tenants.');
      }),
    );

  tenant
    .command('policy')
    .description('show or set the self-service policy: the User attributes end users may change through /Me')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .option(
      '--self-service <attributes>',
      "comma-separated attribute paths, e.g. phoneNumbers,addresses,name.givenName,password; '' for none",
    )
    .addOption(json())
    .action(async (flags: JsonFlag & { tenant: string; selfService?: string }) =>
      withRuntime(async ({ admin, settings }) => {
        const found = await admin.authorizeTenantAdmin(CLI_PRINCIPAL, flags.tenant);
        const policy =
          flags.selfService === undefined
            ? await settings.selfServicePolicy(found.id)
            : await settings.setSelfServicePolicy(found.id, flags.selfService.split(','), cliContext());
        print(flags, policy, `Self-service for ${found.slug}: ${policy.editableAttributes.join(', ') || '(nothing: /Me is read-only)'}`);
      }),
    );

  const schema = program.command('schema').description("a tenant's custom SCIM schema extensions");
  schema
    .command('create')
    .description('declare a schema extension from a JSON file (RFC 7643 §7 attribute definitions)')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .requiredOption('--file <file>', "JSON: { id: 'urn:…', name, resourceType: 'User'|'Group', attributes: [...] }")
    .addOption(json())
    .action(async (flags: JsonFlag & { tenant: string; file: string }) =>
      withRuntime(async ({ admin, settings }) => {
        const found = await admin.authorizeTenantAdmin(CLI_PRINCIPAL, flags.tenant);
        let definition: unknown;
        try {
          definition = JSON.parse(await readFile(flags.file, 'utf8'));
        } catch (error) {
          throw new CliUsageError(`Cannot read ${flags.file} as JSON: ${error instanceof Error ? error.message : String(error)}`);
        }
        const created = await settings.createExtension(found.id, definition, cliContext());
        print(flags, created, `Declared ${created.id} on ${created.resourceType} in ${found.slug}.`);
      }),
    );
  schema
    .command('list')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .addOption(json())
    .action(async (flags: JsonFlag & { tenant: string }) =>
      withRuntime(async ({ admin, settings }) => {
        const found = await admin.authorizeTenantAdmin(CLI_PRINCIPAL, flags.tenant);
        const list = await settings.extensions(found.id);
        print(flags, list, list.map((e) => `${e.id}\t${e.resourceType}\t${e.attributes.length} attributes`).join('\n') || 'No extensions.');
      }),
    );
  schema
    .command('delete')
    .description('remove an extension no resource carries any more')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .requiredOption('--id <urn>', 'the extension URN')
    .addOption(json())
    .action(async (flags: JsonFlag & { tenant: string; id: string }) =>
      withRuntime(async ({ admin, settings }) => {
        const found = await admin.authorizeTenantAdmin(CLI_PRINCIPAL, flags.tenant);
        await settings.deleteExtension(found.id, flags.id, cliContext());
        print(flags, { deleted: flags.id }, `Removed ${flags.id} from ${found.slug}.`);
      }),
    );

  const token = program.command('token').description('API tokens');
  token
    .command('create')
    .option('--tenant <tenant>', 'tenant slug or id')
    .option('--platform', 'a platform admin token instead of a tenant token')
    .requiredOption(
      '--scopes <scopes>',
      'comma-separated: scim:read,scim:write,graphql:read,graphql:write; scim:me with --user; admin for platform tokens',
    )
    .option('--user <user>', "an end user's token for /Me: the id or userName of their User (scopes: scim:me)")
    .option('--name <name>', 'label shown in token lists')
    .option('--expires-in-days <days>', 'expire after this many days', (v) => Number(v))
    .addOption(json())
    .action(
      async (
        flags: JsonFlag & { tenant?: string; platform?: boolean; scopes: string; user?: string; name?: string; expiresInDays?: number },
      ) => {
        if (!flags.platform && !flags.tenant) throw new CliUsageError('Give --tenant <slug>, or --platform for a platform token.');
        await withRuntime(async ({ admin }) => {
          const issued = await admin.issueToken(
            CLI_PRINCIPAL,
            {
              tenant: flags.platform ? null : (flags.tenant ?? null),
              scopes: flags.scopes,
              ...(flags.user ? { user: flags.user } : {}),
              ...(flags.name ? { name: flags.name } : {}),
              ...(flags.expiresInDays !== undefined ? { expiresInDays: flags.expiresInDays } : {}),
            },
            cliContext(),
          );
          print(
            flags,
            { token: issued.token, ...issued.record },
            `Token (shown once, store it now):\n${issued.token}\nid ${issued.record.id}, scopes ${issued.record.scopes.join(',')}`,
          );
        });
      },
    );
  token
    .command('list')
    .option('--tenant <tenant>', 'tenant slug or id (platform tokens when omitted)')
    .addOption(json())
    .action(async (flags: JsonFlag & { tenant?: string }) =>
      withRuntime(async ({ admin }) => {
        const tokens = await admin.listTokens(CLI_PRINCIPAL, flags.tenant ?? null);
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
    .argument('<id>', 'token id')
    .addOption(json())
    .action(async (id: string, flags: JsonFlag) =>
      withRuntime(async ({ admin }) => {
        const revoked = await admin.revokeToken(CLI_PRINCIPAL, id, cliContext());
        print(flags, revoked, `Revoked token ${revoked.id}.`);
      }),
    );

  const config = program.command('config').description('configuration');
  config
    .command('docs')
    .description('write the configuration reference (docs/configuration.md)')
    .option('--out <file>', 'output file', 'docs/configuration.md')
    .option('--check', 'fail when the file differs from the generated reference')
    .action(async (flags: { out: string; check?: boolean }) => {
      const text = renderConfigurationReference();
      if (flags.check) {
        const current = await readFile(flags.out, 'utf8').catch(() => '');
        if (current !== text) throw new CliUsageError(`${flags.out} is out of date: run \`pnpm meridian config docs\`.`);
        return;
      }
      await writeFile(flags.out, text);
    });
  config
    .command('check')
    .description('validate the environment and print the effective configuration (secrets hidden)')
    .addOption(json())
    .action(async (flags: JsonFlag) => {
      const c = loadConfig();
      const shown = {
        ...c,
        databaseUrl: c.databaseUrl ? redactUrl(c.databaseUrl) : 'embedded',
        redisUrl: c.redisUrl ? redactUrl(c.redisUrl) : null,
        adminToken: c.adminToken ? '[set]' : null,
      };
      print(flags, shown, JSON.stringify(shown, null, 2));
    });

  return program;
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** A usage error: printed without a stack trace. */
class CliUsageError extends Error {}

/** Runs the CLI; exits 1 with a clear message on any error. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    const json = argv.includes('--json');
    if (isMeridianError(error) || error instanceof ConfigError || error instanceof CliUsageError) {
      const code = isMeridianError(error) ? error.code : error instanceof ConfigError ? 'INVALID_CONFIG' : 'USAGE';
      process.stderr.write(json ? `${JSON.stringify({ error: { code, message: error.message } })}\n` : `error: ${error.message}\n`);
    } else {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exitCode = 1;
  }
}
