import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import {
  type AnchoredCheckpoints,
  type ChainVerification,
  chainLabel,
  isMeridianError,
  PLATFORM_CHAIN,
  type Principal,
  type RequestContext,
  ROLES,
  type TrustedIssuer,
} from '@meridian/core';
import { Command, Option } from 'commander';
import { updateSecurityDoc } from '../auth/security-docs.js';
import { openTrustedIssuers } from '../auth/trusted-issuers.js';
import { ConfigError, type HubConfig, loadConfig, renderConfigurationReference } from '../config/config.js';
import { openRuntime, type Runtime, type RuntimeOptions } from '../runtime/runtime.js';
import { describeStartupError } from '../runtime/startup-errors.js';
import { registerDirectoryCommands } from './directory-commands.js';
import { registerSecretsCommands } from './secrets-commands.js';
import { serve } from './serve.js';
import { registerTargetCommands } from './target-commands.js';

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

type RuntimeWork<T> = (runtime: Runtime, config: HubConfig) => Promise<T>;

/** Runs one CLI command against the database, whether the hub is running or not. */
async function withRuntime<T>(...args: [work: RuntimeWork<T>] | [options: RuntimeOptions, work: RuntimeWork<T>]): Promise<T> {
  const [options, work] = args.length === 1 ? [{}, args[0]] : args;
  const config = loadConfig();
  const runtime = await openRuntime(config, 'client', undefined, undefined, options);
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
    .option('--create-database', 'create the database named in DATABASE_URL when the server has none (it is never created otherwise)')
    .addOption(json())
    .action(async (flags: JsonFlag & { createDatabase?: boolean }) =>
      withRuntime({ createDatabase: flags.createDatabase ?? false }, async (runtime) => {
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
    .description('create a community of interest; prints its id')
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
    .description('list the communities: slug, name and id')
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
    .description('create a tenant (an office) in a community; prints its id')
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
    .description("list the tenants, all or one community's: slug, name and id")
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
    .description("list a tenant's schema extensions")
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
    .addOption(json())
    .action(
      async (
        flags: JsonFlag & {
          tenant?: string;
          community?: string;
          platform?: boolean;
          role?: string;
          scopes?: string;
          user?: string;
          name?: string;
          expiresInDays?: number;
        },
      ) => {
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
      },
    );
  token
    .command('list')
    .description("list a tenant's, a community's or the platform's tokens: id, prefix, scopes, state (never the secret)")
    .option('--tenant <tenant>', 'tenant slug or id (platform tokens when neither this nor --community is given)')
    .option('--community <community>', "community slug or id: the community's own tokens")
    .addOption(json())
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
    .addOption(json())
    .action(async (id: string, flags: JsonFlag) =>
      withRuntime(async ({ admin }) => {
        const revoked = await admin.revokeToken(CLI_PRINCIPAL, id, cliContext());
        print(flags, revoked, `Revoked token ${revoked.id}.`);
      }),
    );

  const issuer = program.command('issuer').description('trusted JWT issuers: OAuth 2.0 / OIDC providers whose tokens the hub accepts');
  issuer
    .command('add')
    .description('trust an issuer for one tenant or one community')
    .option('--tenant <tenant>', 'tenant slug or id: its tokens act in this tenant')
    .option('--community <community>', "community slug or id: its tokens act across this community's tenants")
    .requiredOption('--issuer <url>', 'the exact iss of its tokens')
    .requiredOption('--audience <aud>', 'the aud its tokens must carry')
    .requiredOption('--jwks-uri <url>', 'where it publishes its keys (https; http only on localhost)')
    .option('--algorithms <list>', 'allowed algorithms, comma-separated (default RS256,ES256,EdDSA; never none or HS*)')
    .option('--roles-claim <claim>', 'the claim listing roles (default roles; a dotted path reaches into objects)')
    .option('--tenant-claim <claim>', 'community issuers: the claim naming the tenant of tenant-level roles (default tenant)')
    .option('--subject-claim <claim>', "the claim holding an end user's userName (default sub)")
    .option('--role-map <map>', "claim value to role, e.g. 'hr=hr_reader,scim=provisioner' (default: role names map to themselves)")
    .addOption(json())
    .action(
      async (
        flags: JsonFlag & {
          tenant?: string;
          community?: string;
          issuer: string;
          audience: string;
          jwksUri: string;
          algorithms?: string;
          rolesClaim?: string;
          tenantClaim?: string;
          subjectClaim?: string;
          roleMap?: string;
        },
      ) =>
        withRuntime(async (runtime) => {
          const added = await openTrustedIssuers(runtime).service.add(
            CLI_PRINCIPAL,
            {
              tenant: flags.tenant,
              community: flags.community,
              issuer: flags.issuer,
              audience: flags.audience,
              jwksUri: flags.jwksUri,
              algorithms: flags.algorithms,
              rolesClaim: flags.rolesClaim,
              tenantClaim: flags.tenantClaim,
              subjectClaim: flags.subjectClaim,
              roleMap: flags.roleMap,
            },
            cliContext(),
          );
          print(flags, added, `Trusted ${added.issuer} (aud ${added.audience}) as ${added.id}.`);
        }),
    );
  issuer
    .command('list')
    .description('list the trusted issuers, all or those of one tenant or community')
    .option('--tenant <tenant>', 'only the issuers of this tenant')
    .option('--community <community>', 'only the issuers of this community')
    .addOption(json())
    .action(async (flags: JsonFlag & { tenant?: string; community?: string }) =>
      withRuntime(async (runtime) => {
        const list = await openTrustedIssuers(runtime).service.list(CLI_PRINCIPAL, { tenant: flags.tenant, community: flags.community });
        print(flags, list, list.map(describeIssuer).join('\n') || 'No trusted issuers.');
      }),
    );
  issuer
    .command('remove')
    .description('stop trusting an issuer by id; running hubs stop accepting its tokens within 30 seconds')
    .argument('<id>', 'trusted issuer id')
    .addOption(json())
    .action(async (id: string, flags: JsonFlag) =>
      withRuntime(async (runtime) => {
        const removed = await openTrustedIssuers(runtime).service.remove(CLI_PRINCIPAL, id, cliContext());
        print(flags, removed, `Removed ${removed.issuer} (${removed.id}); running hubs stop accepting its tokens within 30 seconds.`);
      }),
    );

  program
    .command('security')
    .description('security reference')
    .command('docs')
    .description('write the role and permission tables of docs/security.md from the permission matrix')
    .option('--out <file>', 'the file', 'docs/security.md')
    .option('--check', 'fail when the file differs from the generated tables')
    .action(async (flags: { out: string; check?: boolean }) => {
      const current = await readFile(flags.out, 'utf8');
      const text = updateSecurityDoc(current);
      if (flags.check) {
        if (current !== text) throw new CliUsageError(`${flags.out} is out of date: run \`pnpm meridian security docs\`.`);
        return;
      }
      await writeFile(flags.out, text);
    });

  registerTargetCommands(program, {
    withRuntime,
    print,
    context: cliContext,
    principal: CLI_PRINCIPAL,
    usageError: (message) => new CliUsageError(message),
  });
  registerDirectoryCommands(program, {
    withRuntime,
    print,
    context: cliContext,
    principal: CLI_PRINCIPAL,
    usageError: (message) => new CliUsageError(message),
  });

  registerSecretsCommands(program, { withRuntime, print });

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
        audit: { ...c.audit, signingKey: c.audit.signingKey ? '[set]' : null },
      };
      print(flags, shown, JSON.stringify(shown, null, 2));
    });

  addAuditCommands(program);
  return program;
}

function describeIssuer(i: TrustedIssuer): string {
  const owner = i.tenantId ? `tenant ${i.tenantId}` : `community ${i.communityId}`;
  const roles = Object.entries(i.roleMap)
    .map(([value, role]) => `${value}=${role}`)
    .join(',');
  return `${i.id}\t${i.issuer}\taud ${i.audience}\t${owner}\t${i.algorithms.join(',')}\t${roles}`;
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/**
 * A whole number as typed (`30`, `-1`); anything else (`1.5`, `1e3`, `0x10`,
 * `abc`, ``) is NaN, so that the core refuses it with the valid range rather
 * than reading it as something else.
 */
function parseWholeNumber(text: string): number {
  return /^[+-]?\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
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
      const message = describeStartupError(error);
      process.stderr.write(json ? `${JSON.stringify({ error: { code: 'STARTUP', message } })}\n` : `error: ${message}\n`);
    }
    process.exitCode = 1;
  }
}

/** The tenant slugs by id, to name chains in the audit commands' output. */
async function tenantSlugs(runtime: Runtime): Promise<Map<string, string>> {
  const slugs = new Map<string, string>();
  let after: string | undefined;
  for (;;) {
    const page = await runtime.admin.listTenants(CLI_PRINCIPAL, { first: 500, after });
    for (const t of page.items) slugs.set(t.id, t.slug);
    if (!page.hasNextPage || page.endCursor === null) return slugs;
    after = page.endCursor;
  }
}

/** `tenant emea`, `platform`, or `chain <id>`. */
function labelOf(chain: string, slugs: Map<string, string>): string {
  return chainLabel({ chain, tenantSlug: slugs.get(chain) ?? null });
}

function parseInstant(value: string | undefined, option: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new CliUsageError(`${option} must be an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z.`);
  return date;
}

/** The chain `--tenant` / `--platform` select; undefined for every chain when `required` is false. */
async function selectedChain(
  runtime: Runtime,
  flags: { tenant?: string; platform?: boolean },
  required: boolean,
): Promise<string | undefined> {
  if (flags.tenant !== undefined && flags.platform) throw new CliUsageError('Give --tenant <slug> or --platform, not both.');
  if (flags.platform) return PLATFORM_CHAIN;
  if (flags.tenant !== undefined) return runtime.audit.readableChain(CLI_PRINCIPAL, flags.tenant);
  if (required) throw new CliUsageError('Give --tenant <slug>, or --platform for the platform chain.');
  return undefined;
}

async function readAnchors(file: string): Promise<AnchoredCheckpoints> {
  let parsed: { publicKey?: unknown; checkpoints?: unknown };
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as typeof parsed;
  } catch (error) {
    throw new CliUsageError(`Cannot read ${file} as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed.publicKey !== 'string' || !Array.isArray(parsed.checkpoints)) {
    throw new CliUsageError(`${file} is not the output of \`meridian audit checkpoints --json\` (publicKey and checkpoints).`);
  }
  const checkpoints = (parsed.checkpoints as Record<string, unknown>[]).map((c) => {
    if (
      typeof c.chain !== 'string' ||
      typeof c.seq !== 'number' ||
      typeof c.hash !== 'string' ||
      typeof c.createdAt !== 'string' ||
      typeof c.keyId !== 'string' ||
      typeof c.signature !== 'string'
    ) {
      throw new CliUsageError(`${file} has a checkpoint without chain, seq, hash, createdAt, keyId and signature.`);
    }
    return { chain: c.chain, seq: c.seq, hash: c.hash, createdAt: new Date(c.createdAt), keyId: c.keyId, signature: c.signature };
  });
  return { publicKey: parsed.publicKey, checkpoints };
}

function describeVerification(result: ChainVerification): string[] {
  const label = chainLabel(result);
  if (!result.ok) return result.breaks.map((b) => `${label}: ${b.message}`);
  const checkpoint = result.lastCheckpoint
    ? `, last checkpoint ${result.lastCheckpoint.seq} (key ${result.lastCheckpoint.keyId})`
    : ', no checkpoint';
  const anchor = result.anchor ? `, pruned up to ${result.anchor.seq}` : '';
  return [`${label}: ok (${result.entriesChecked} entries, last seq ${result.lastSeq ?? '-'}${checkpoint}${anchor})`];
}

/** `meridian audit …`: verify, checkpoint, checkpoints, export, prune (docs/audit.md). */
function addAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log (docs/audit.md)');

  audit
    .command('verify')
    .description('recompute the hash chains and check the signed checkpoints; exit 1 naming each break')
    .option('--tenant <tenant>', 'only this tenant (slug or id)')
    .option('--platform', 'only the platform chain')
    .option('--anchors <file>', 'checkpoints kept outside the hub (the output of `pnpm meridian audit checkpoints --json`)')
    .addOption(json())
    .action(async (flags: JsonFlag & { tenant?: string; platform?: boolean; anchors?: string }) =>
      withRuntime(async (runtime) => {
        const chain = await selectedChain(runtime, flags, false);
        const anchored = flags.anchors === undefined ? undefined : await readAnchors(flags.anchors);
        const results = await runtime.auditLog.verify({ chain, anchored });
        const ok = results.every((r) => r.ok);
        const broken = results.filter((r) => !r.ok).length;
        print(
          flags,
          { ok, chains: results },
          [
            ...results.flatMap(describeVerification),
            ok ? `${results.length} chain(s) verified: ok.` : `${broken} of ${results.length} chain(s) have breaks.`,
          ].join('\n'),
        );
        if (!ok) process.exitCode = 1;
      }),
    );

  audit
    .command('checkpoint')
    .description('sign a checkpoint at the head of every chain with new entries (the serving hub does this on a timer)')
    .option('--force', 'sign even when the entries since the last checkpoint do not verify')
    .addOption(json())
    .action(async (flags: JsonFlag & { force?: boolean }) =>
      withRuntime(async (runtime) => {
        const outcomes = await runtime.auditLog.checkpoint({ everyEntries: 1, everyMs: 0, force: flags.force === true });
        const slugs = await tenantSlugs(runtime);
        const lines = outcomes.map((o) => {
          const label = labelOf(o.chain, slugs);
          if (o.status === 'created') return `${label}: checkpoint at ${o.seq}`;
          if (o.status === 'current') return `${label}: up to date at ${o.seq}`;
          return `${label}: refused at ${o.seq}: ${o.breaks.map((b) => b.message).join('; ')} (run meridian audit verify)`;
        });
        print(flags, outcomes, lines.join('\n') || 'No audit entries yet.');
        if (outcomes.some((o) => o.status === 'refused')) process.exitCode = 1;
      }),
    );

  audit
    .command('checkpoints')
    .description('print the signed checkpoints and the public key, to anchor them outside the hub')
    .option('--tenant <tenant>', 'only this tenant (slug or id)')
    .option('--platform', 'only the platform chain')
    .addOption(json())
    .action(async (flags: JsonFlag & { tenant?: string; platform?: boolean }) =>
      withRuntime(async (runtime) => {
        const chain = await selectedChain(runtime, flags, false);
        const [checkpoints, key, slugs] = await Promise.all([
          runtime.auditLog.checkpoints(chain),
          runtime.auditLog.publicKey(),
          tenantSlugs(runtime),
        ]);
        const exported = {
          algorithm: 'Ed25519',
          keyId: key?.keyId ?? null,
          publicKey: key?.pem ?? null,
          signedPayload: 'RFC 8785 canonical JSON of {chain, seq, hash, createdAt, keyId}; signature is base64',
          checkpoints: checkpoints.map((c) => ({
            chain: c.chain,
            tenant: slugs.get(c.chain) ?? null,
            seq: c.seq,
            hash: c.hash,
            createdAt: c.createdAt.toISOString(),
            keyId: c.keyId,
            signature: c.signature,
          })),
        };
        const lines = checkpoints.map((c) => `${labelOf(c.chain, slugs)}\t${c.seq}\t${c.createdAt.toISOString()}\t${c.keyId}\t${c.hash}`);
        print(
          flags,
          exported,
          [
            ...(lines.length > 0 ? lines : ['No checkpoints yet.']),
            '',
            key ? `Public key ${key.keyId}:\n${key.pem.trim()}` : 'No signing key yet.',
          ].join('\n'),
        );
      }),
    );

  audit
    .command('export')
    .description("write a chain's entries as NDJSON (one JSON object per line, oldest first) for a SIEM")
    .option('--tenant <tenant>', 'tenant slug or id')
    .option('--platform', 'the platform chain')
    .option('--since <instant>', 'entries created at or after this ISO 8601 date-time')
    .option('--until <instant>', 'entries created before this ISO 8601 date-time')
    .action(async (flags: { tenant?: string; platform?: boolean; since?: string; until?: string }) =>
      withRuntime(async (runtime) => {
        const since = parseInstant(flags.since, '--since');
        const until = parseInstant(flags.until, '--until');
        const chain = (await selectedChain(runtime, flags, true)) as string;
        // Each line is the hashed fields plus `hash`: anyone can recompute SHA-256 over the canonical JSON without `hash`.
        for await (const e of runtime.auditLog.stream(chain, { since, until })) {
          const line = JSON.stringify({
            chain: e.chain,
            seq: e.seq,
            tenantId: e.tenantId,
            actorType: e.actorType,
            actorId: e.actorId,
            action: e.action,
            resourceType: e.resourceType,
            resourceId: e.resourceId,
            requestId: e.requestId,
            sourceAddress: e.sourceAddress,
            diff: e.diff,
            createdAt: e.createdAt.toISOString(),
            prevHash: e.prevHash,
            hash: e.hash,
          });
          if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
        }
      }),
    );

  audit
    .command('prune')
    .description('delete entries older than the retention, up to a signed checkpoint that becomes the chain anchor')
    .option('--days <days>', 'retention in days (default: MERIDIAN_AUDIT_RETENTION_DAYS)', (v) => Number(v))
    .addOption(json())
    .action(async (flags: JsonFlag & { days?: number }) =>
      withRuntime(async (runtime, config) => {
        const days = flags.days ?? config.audit.retentionDays;
        if (days === undefined) {
          throw new CliUsageError('No retention: set MERIDIAN_AUDIT_RETENTION_DAYS or give --days; audit entries are kept forever.');
        }
        if (!Number.isInteger(days) || days < 1) throw new CliUsageError('--days must be a whole number of days, at least 1.');
        const before = new Date(Date.now() - days * 86_400_000);
        const outcomes = await runtime.auditLog.prune(before, cliContext());
        const slugs = await tenantSlugs(runtime);
        const lines = outcomes.map((o) => {
          const label = labelOf(o.chain, slugs);
          if (o.status === 'pruned') return `${label}: deleted ${o.deletedEntries} entries, anchored at checkpoint ${o.anchorSeq}`;
          if (o.status === 'kept') return `${label}: kept (no signed checkpoint older than ${before.toISOString()})`;
          return `${label}: refused: ${o.breaks.map((b) => b.message).join('; ')} (evidence is not pruned; run meridian audit verify)`;
        });
        print(flags, { before: before.toISOString(), chains: outcomes }, lines.join('\n') || 'No audit entries.');
        if (outcomes.some((o) => o.status === 'refused')) process.exitCode = 1;
      }),
    );
}
