import { readFile } from 'node:fs/promises';
import { type DeleteMode, MAX_REPLICATION_WAIT_SECONDS, type Principal, type ReplicationTarget, type RequestContext } from '@meridian/core';
import type { TargetChanges, TargetInput } from '@meridian/replication';
import { type Command, Option } from 'commander';
import type { Runtime } from '../runtime/runtime.js';

/** What the `target` commands borrow from the CLI (main.ts). */
export interface TargetCommandHelpers {
  withRuntime<T>(work: (runtime: Runtime) => Promise<T>): Promise<T>;
  print(flags: { json?: boolean }, value: unknown, human: string): void;
  context(): RequestContext;
  principal: Principal;
  usageError(message: string): Error;
}

interface TargetFlags {
  json?: boolean;
  tenant: string;
  target?: string;
  name?: string;
  kind?: string;
  url?: string;
  token?: string;
  config?: string;
  deleteMode?: string;
  scopeUsers?: string;
  scopeGroups?: string;
  mapping?: string;
  pushPasswords?: boolean;
  rateLimit?: string;
  concurrency?: string;
  maxAttempts?: string;
  paused?: boolean;
}

const json = () => new Option('--json', 'print machine-readable JSON');

/** A target as the CLI prints it: no secret values, ever. */
function view(target: ReplicationTarget) {
  return {
    id: target.id,
    name: target.name,
    kind: target.kind,
    config: target.config,
    secretNames: target.secretNames,
    deleteMode: target.deleteMode,
    graceSeconds: target.graceSeconds,
    scoping: target.scoping,
    mapping: target.mapping,
    pushPasswords: target.pushPasswords,
    enabled: target.enabled,
    paused: target.paused,
    rateLimit: target.rateLimit,
    concurrency: target.concurrency,
    maxAttempts: target.maxAttempts,
    circuitState: target.circuitState,
  };
}

function withTargetOptions(command: Command): Command {
  return command
    .option(
      '--url <url>',
      'base URL of the target (config.baseUrl; the SCIM base URL for --kind scim); a new scheme, host or port drops the stored token unless --token comes with it',
    )
    .option('--token <token>', 'bearer token of the target (stored encrypted)')
    .option('--config <json>', 'more connector config as a JSON object')
    .option('--delete-mode <mode>', 'delete | deactivate | grace:<days> (deactivate now, delete after <days>)')
    .option('--scope-users <filter>', "SCIM filter of the users that go to the target; 'none' for no users")
    .option('--scope-groups <filter>', "SCIM filter of the groups that go to the target; 'none' for no groups")
    .option('--mapping <file>', 'attribute mapping (JSON: { User?: { identity?, exclude?, attributes? }, Group?: ... })')
    .option(
      '--push-passwords',
      'deliver passwords set in the hub to this target; its connector must accept them (scim: --config \'{"supportsPassword":true}\')',
    )
    .option('--rate-limit <rate>', 'at most <n>/<seconds>s deliveries, e.g. 50/1s')
    .option('--concurrency <n>', 'deliveries in flight at once (all workers together)')
    .option('--max-attempts <n>', 'attempts before a transient failure is dead-lettered');
}

function parseDeleteMode(text: string, fail: (m: string) => Error): { deleteMode: DeleteMode; graceSeconds: number | null } {
  if (text === 'delete' || text === 'deactivate') return { deleteMode: text, graceSeconds: null };
  const grace = /^grace:(\d+(?:\.\d+)?)$/.exec(text);
  if (grace) {
    // grace:0 (or a fraction that rounds to no second) is refused, never stretched to a second.
    const seconds = Math.round(Number(grace[1]) * 86_400);
    if (seconds < 1 || seconds > 3650 * 86_400)
      throw fail(`--delete-mode grace:<days> takes more than 0 and at most 3650 days, not '${grace[1]}'.`);
    return { deleteMode: 'grace', graceSeconds: seconds };
  }
  throw fail(`--delete-mode is delete, deactivate or grace:<days>, not '${text}'.`);
}

function parseRate(text: string, fail: (m: string) => Error): { max: number; durationMs: number } {
  const match = /^(\d+)\/(\d+(?:\.\d+)?)s$/.exec(text);
  if (!match) throw fail(`--rate-limit is <n>/<seconds>s, e.g. 50/1s, not '${text}'.`);
  return { max: Number(match[1]), durationMs: Math.round(Number(match[2]) * 1000) };
}

function parseInteger(text: string, flag: string, fail: (m: string) => Error): number {
  if (!/^\d+$/.test(text)) throw fail(`${flag} is a whole number.`);
  return Number(text);
}

async function changesOf(flags: TargetFlags, fail: (m: string) => Error): Promise<TargetChanges> {
  const changes: TargetChanges = {};
  let config: Record<string, unknown> | undefined;
  if (flags.config !== undefined) {
    try {
      config = JSON.parse(flags.config) as Record<string, unknown>;
    } catch {
      throw fail('--config is a JSON object.');
    }
  }
  if (flags.url !== undefined) config = { ...config, baseUrl: flags.url };
  if (config !== undefined) changes.config = config;
  if (flags.token !== undefined) changes.secrets = { token: flags.token };
  if (flags.deleteMode !== undefined) Object.assign(changes, parseDeleteMode(flags.deleteMode, fail));
  if (flags.scopeUsers !== undefined || flags.scopeGroups !== undefined) {
    const scope = (value: string | undefined) => (value === undefined ? undefined : value === 'none' ? false : value);
    changes.scoping = {
      ...(flags.scopeUsers !== undefined ? { User: scope(flags.scopeUsers) } : {}),
      ...(flags.scopeGroups !== undefined ? { Group: scope(flags.scopeGroups) } : {}),
    } as TargetChanges['scoping'];
  }
  if (flags.mapping !== undefined) {
    try {
      changes.mapping = JSON.parse(await readFile(flags.mapping, 'utf8'));
    } catch (error) {
      throw fail(`Cannot read ${flags.mapping} as JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (flags.pushPasswords) changes.pushPasswords = true;
  if (flags.rateLimit !== undefined) changes.rateLimit = parseRate(flags.rateLimit, fail);
  if (flags.concurrency !== undefined) changes.concurrency = parseInteger(flags.concurrency, '--concurrency', fail);
  if (flags.maxAttempts !== undefined) changes.maxAttempts = parseInteger(flags.maxAttempts, '--max-attempts', fail);
  if (flags.paused) changes.paused = true;
  return changes;
}

/** A default name: the kind and the target's host, numbered when taken. */
function defaultName(kind: string, url: string | undefined, taken: Set<string>): string {
  let host = '';
  try {
    host = url ? new URL(url).host.replace(/[^A-Za-z0-9._-]/g, '-') : '';
  } catch {
    host = '';
  }
  const base = `${kind}${host ? `-${host}` : ''}`.slice(0, 60);
  let name = base;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}-${n}`;
  return name;
}

/**
 * `meridian target …`: replication targets of a tenant (issue 5): create,
 * list, change, pause and resume, test, status, dead letters and replay,
 * reconciliation.
 */
export function registerTargetCommands(program: Command, cli: TargetCommandHelpers): void {
  const fail = (message: string) => cli.usageError(message);
  const target = program.command('target').description("a tenant's replication targets (downstream systems)");

  withTargetOptions(
    target
      .command('create')
      .description('add a target; prints its id')
      .requiredOption('--tenant <tenant>', 'tenant slug or id')
      .requiredOption('--kind <kind>', 'connector kind: scim, memory')
      .option('--name <name>', 'a name unique in the tenant (default: kind and host)')
      .option('--paused', 'create it paused'),
  )
    .addOption(json())
    .action(async (flags: TargetFlags & { kind: string }) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        const changes = await changesOf(flags, fail);
        const taken = new Set((await replication.targets.list(tenant.id)).map((t) => t.name.toLowerCase()));
        const input: TargetInput = {
          ...changes,
          name: flags.name ?? defaultName(flags.kind, flags.url, taken),
          kind: flags.kind,
          secrets: (changes.secrets ?? {}) as Record<string, string>,
        };
        const created = await replication.targets.create(tenant.id, input, cli.context());
        cli.print(flags, view(created), `Created target ${created.name} (${created.id}).`);
      }),
    );

  withTargetOptions(
    target
      .command('update')
      .description("change a target's settings (secrets given are replaced)")
      .requiredOption('--tenant <tenant>', 'tenant slug or id')
      .requiredOption('--target <target>', 'target id or name')
      .option('--name <name>', 'a new name'),
  )
    .addOption(json())
    .action(async (flags: TargetFlags & { target: string }) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        const changes = await changesOf(flags, fail);
        if (flags.name !== undefined) changes.name = flags.name;
        const updated = await replication.targets.update(tenant.id, flags.target, changes, cli.context());
        cli.print(flags, view(updated), `Updated target ${updated.name}.`);
      }),
    );

  target
    .command('list')
    .description("list a tenant's targets: id, name, kind and whether each is delivering, paused or has its circuit open")
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .addOption(json())
    .action(async (flags: TargetFlags) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        const list = await replication.targets.list(tenant.id);
        cli.print(
          flags,
          list.map(view),
          list
            .map(
              (t) =>
                `${t.id}\t${t.name}\t${t.kind}\t${t.paused ? 'paused' : t.circuitState === 'closed' ? 'active' : `circuit ${t.circuitState}`}`,
            )
            .join('\n') || 'No targets.',
        );
      }),
    );

  for (const [verb, description] of [
    ['pause', 'stop deliveries to a target (changes keep queueing)'],
    ['resume', 'resume deliveries to a target'],
  ] as const) {
    target
      .command(verb)
      .description(description)
      .requiredOption('--tenant <tenant>', 'tenant slug or id')
      .requiredOption('--target <target>', 'target id or name')
      .addOption(json())
      .action(async (flags: TargetFlags & { target: string }) =>
        cli.withRuntime(async ({ admin, replication }) => {
          const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
          const changed = await replication.targets[verb](tenant.id, flags.target, cli.context());
          cli.print(flags, view(changed), `${changed.name} is ${changed.paused ? 'paused' : 'delivering'}.`);
        }),
      );
  }

  target
    .command('delete')
    .description('remove a target, its queue, links and dead letters (remote objects stay)')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .requiredOption('--target <target>', 'target id or name')
    .addOption(json())
    .action(async (flags: TargetFlags & { target: string }) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        const found = await replication.targets.get(tenant.id, flags.target);
        await replication.targets.delete(tenant.id, found.id, cli.context());
        cli.print(flags, { deleted: found.id }, `Deleted target ${found.name}.`);
      }),
    );

  target
    .command('test')
    .description("test a target's connection and credentials")
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .requiredOption('--target <target>', 'target id or name')
    .addOption(json())
    .action(async (flags: TargetFlags & { target: string }) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        const result = await replication.targets.test(tenant.id, flags.target);
        cli.print(flags, result, `${result.ok ? 'OK' : 'FAILED'}: ${result.message}`);
        if (!result.ok) process.exitCode = 1;
      }),
    );

  target
    .command('status')
    .description('per target: pending, delivered, failed, dead-lettered and skipped resources; --resource for one resource')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .option('--target <target>', 'only this target (id or name)')
    .option('--resource <kind/id>', 'where one resource stands, e.g. User/0192…')
    .addOption(json())
    .action(async (flags: TargetFlags & { resource?: string }) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        if (flags.resource !== undefined) {
          const match = /^(User|Group)\/(.+)$/.exec(flags.resource);
          if (!match) throw fail('--resource is User/<id> or Group/<id>.');
          const links = await replication.resourceStatus(tenant.id, match[1] as 'User' | 'Group', match[2] as string);
          cli.print(
            flags,
            links,
            links
              .map((l) => `${l.target}\t${l.status}\tv${l.handledVersion}\t${l.remoteId ?? '-'}${l.lastError ? `\t${l.lastError}` : ''}`)
              .join('\n') || 'Not replicated.',
          );
          return;
        }
        let counts = await replication.statusCounts(tenant.id);
        if (flags.target !== undefined) {
          const found = await replication.targets.get(tenant.id, flags.target);
          counts = counts.filter((c) => c.targetId === found.id);
        }
        cli.print(
          flags,
          counts,
          counts
            .map(
              (c) =>
                `${c.name}\tpending ${c.pending}\tdelivered ${c.delivered}\tfailed ${c.failed}\tdead-lettered ${c.deadLettered}\tskipped ${c.skipped}`,
            )
            .join('\n') || 'No targets.',
        );
      }),
    );

  target
    .command('dead-letters')
    .description('permanent failures: the request, the response and the reason')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .option('--target <target>', 'only this target (id or name)')
    .option('--all', 'include replayed ones')
    .addOption(json())
    .action(async (flags: TargetFlags & { all?: boolean }) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        const letters = await replication.deadLetters(tenant.id, {
          ...(flags.target !== undefined ? { target: flags.target } : {}),
          includeReplayed: flags.all === true,
        });
        cli.print(
          flags,
          letters,
          letters
            .map((l) => `${l.id}\t${l.kind}/${l.localId}\t${l.operation}\t${l.reason}${l.replayedAt ? '\t(replayed)' : ''}`)
            .join('\n') || 'No dead letters.',
        );
      }),
    );

  target
    .command('replay')
    .description("queue a dead letter's resource again (its current state)")
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .requiredOption('--id <id>', 'dead letter id')
    .addOption(json())
    .action(async (flags: TargetFlags & { id: string }) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        const letter = await replication.replay(tenant.id, flags.id, cli.context());
        cli.print(flags, letter, `Queued ${letter.kind}/${letter.localId} for its target again.`);
      }),
    );

  target
    .command('reconcile')
    .description('compare the hub with a target object by object and fix the drift (also the first load of a new target)')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .requiredOption('--target <target>', 'target id or name')
    .option('--dry-run', 'only show the planned change per object')
    .addOption(json())
    .action(async (flags: TargetFlags & { target: string; dryRun?: boolean }) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        const report = await replication.reconcile(tenant.id, flags.target, { dryRun: flags.dryRun === true });
        const lines = report.items.map(
          (i) =>
            `${i.drift}\t${i.kind}\t${i.name ?? '-'}\t${i.localId ?? '-'}\t${i.remoteId ?? '-'}\t${i.action}${i.differences.length ? `\t${i.differences.join(',')}` : ''}${i.applied === false ? `\tFAILED: ${i.error}` : ''}`,
        );
        const summary = `${report.target}: ${report.hubObjects} in the hub, ${report.remoteObjects} at the target, ${report.inSync} in sync, ${report.items.length} differ${report.dryRun ? ' (dry run)' : `, ${report.fixed} fixed, ${report.failed} failed`}.`;
        cli.print(flags, report, [...lines, summary].join('\n'));
        if (report.failed > 0) process.exitCode = 1;
      }),
    );

  target
    .command('wait-policy')
    .description('show or set how long SCIM writes wait for their deliveries when the client sends no Prefer: wait')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .option('--seconds <seconds>', `0 (answer at once) to ${MAX_REPLICATION_WAIT_SECONDS}, the longest any write waits`)
    .addOption(json())
    .action(async (flags: TargetFlags & { seconds?: string }) =>
      cli.withRuntime(async ({ admin, replication }) => {
        const tenant = await admin.authorizeTenantAdmin(cli.principal, flags.tenant);
        const seconds =
          flags.seconds === undefined
            ? await replication.waitPolicy(tenant.id)
            : await replication.setWaitPolicy(tenant.id, parseInteger(flags.seconds, '--seconds', fail), cli.context());
        cli.print(flags, { waitSeconds: seconds }, `SCIM writes of ${tenant.slug} wait ${seconds} s for their deliveries by default.`);
      }),
    );
}
