import type { DeleteMode, ReplicationTarget, TargetChanges, TargetRetirement } from '@meridian/core';
import type { Command } from 'commander';
import { CliUsageError, parseCount, readJsonFile } from './common.js';

// The options `target create` and `target update` share, how they become a
// change of the target, and how a target is printed.

export interface TargetFlags {
  json?: boolean;
  tenant: string;
  target?: string;
  name?: string;
  kind?: string;
  url?: string;
  token?: string;
  bindDn?: string;
  bindPassword?: string;
  baseDn?: string;
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

/** A target as the CLI prints it: no secret values, ever. */
export function view(target: ReplicationTarget) {
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
    // Set once `target migrate` scheduled its retirement (docs/migration.md): { at, retiredAt, successorId }.
    retirement: (target.retirement ?? null) satisfies TargetRetirement | null,
  };
}

export function withTargetOptions(command: Command): Command {
  return command
    .option(
      '--url <url>',
      'base URL of the target (config.baseUrl; the SCIM base URL for --kind scim); a new scheme, host or port drops the stored token unless --token comes with it',
    )
    .option('--token <token>', 'bearer token of the target (stored encrypted)')
    .option('--bind-dn <dn>', 'LDAP: the DN the hub binds as (config.bindDn)')
    .option('--bind-password <secret>', "LDAP: the bind DN's password (stored encrypted, never printed)")
    .option('--base-dn <dn>', 'LDAP: the naming context the hub writes under (config.baseDn)')
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
    .option('--concurrency <n>', 'requests in flight to the target at once, per worker process')
    .option('--max-attempts <n>', 'attempts before a transient failure is dead-lettered');
}

function parseDeleteMode(text: string): { deleteMode: DeleteMode; graceSeconds: number | null } {
  if (text === 'delete' || text === 'deactivate') return { deleteMode: text, graceSeconds: null };
  const grace = /^grace:(\d+(?:\.\d+)?)$/.exec(text);
  if (grace) {
    // grace:0 (or a fraction that rounds to no second) is refused, never stretched to a second.
    const seconds = Math.round(Number(grace[1]) * 86_400);
    if (seconds < 1 || seconds > 3650 * 86_400)
      throw new CliUsageError(`--delete-mode grace:<days> takes more than 0 and at most 3650 days, not '${grace[1]}'.`);
    return { deleteMode: 'grace', graceSeconds: seconds };
  }
  throw new CliUsageError(`--delete-mode is delete, deactivate or grace:<days>, not '${text}'.`);
}

function parseRate(text: string): { max: number; durationMs: number } {
  const match = /^(\d+)\/(\d+(?:\.\d+)?)s$/.exec(text);
  if (!match) throw new CliUsageError(`--rate-limit is <n>/<seconds>s, e.g. 50/1s, not '${text}'.`);
  return { max: Number(match[1]), durationMs: Math.round(Number(match[2]) * 1000) };
}

export async function changesOf(flags: TargetFlags): Promise<TargetChanges> {
  const changes: TargetChanges = {};
  let config: Record<string, unknown> | undefined;
  if (flags.config !== undefined) {
    try {
      config = JSON.parse(flags.config) as Record<string, unknown>;
    } catch {
      throw new CliUsageError('--config is a JSON object.');
    }
  }
  // An ldap:// or ldaps:// URL is an LDAP target's config.url (issue 18); any other is config.baseUrl.
  if (flags.url !== undefined) config = { ...config, [/^ldaps?:/i.test(flags.url) ? 'url' : 'baseUrl']: flags.url };
  if (flags.bindDn !== undefined) config = { ...config, bindDn: flags.bindDn };
  if (flags.baseDn !== undefined) config = { ...config, baseDn: flags.baseDn };
  if (config !== undefined) changes.config = config;
  if (flags.token !== undefined) changes.secrets = { token: flags.token };
  if (flags.bindPassword !== undefined) changes.secrets = { ...changes.secrets, bindPassword: flags.bindPassword };
  if (flags.deleteMode !== undefined) Object.assign(changes, parseDeleteMode(flags.deleteMode));
  if (flags.scopeUsers !== undefined || flags.scopeGroups !== undefined) {
    const scope = (value: string | undefined) => (value === undefined ? undefined : value === 'none' ? false : value);
    changes.scoping = {
      ...(flags.scopeUsers !== undefined ? { User: scope(flags.scopeUsers) } : {}),
      ...(flags.scopeGroups !== undefined ? { Group: scope(flags.scopeGroups) } : {}),
    } as TargetChanges['scoping'];
  }
  if (flags.mapping !== undefined) changes.mapping = (await readJsonFile(flags.mapping)) as TargetChanges['mapping'];
  if (flags.pushPasswords) changes.pushPasswords = true;
  if (flags.rateLimit !== undefined) changes.rateLimit = parseRate(flags.rateLimit);
  if (flags.concurrency !== undefined) changes.concurrency = parseCount(flags.concurrency, '--concurrency');
  if (flags.maxAttempts !== undefined) changes.maxAttempts = parseCount(flags.maxAttempts, '--max-attempts');
  if (flags.paused) changes.paused = true;
  return changes;
}

/** A default name: the kind and the target's host, numbered when taken. */
export function defaultName(kind: string, url: string | undefined, taken: Set<string>): string {
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
