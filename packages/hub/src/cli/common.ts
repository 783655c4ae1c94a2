import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { AdminService, Principal, RequestContext, Tenant } from '@meridian/core';
import { type Command, Option } from 'commander';
import { type HubConfig, loadConfig } from '../config/config.js';
import { openRuntime, type Runtime, type RuntimeOptions } from '../runtime/runtime.js';

// What every command group of the `meridian` CLI shares: who the CLI acts as,
// the database it opens, the common options and how it prints and fails.

/** The CLI acts as the local platform administrator: it has direct access to the database. */
export const CLI_PRINCIPAL: Principal = { kind: 'platform', tokenId: 'cli', scopes: ['admin'] };

/**
 * The tenant a CLI command names (`--tenant`), looked up once as the CLI
 * principal sees it: the command prints its slug and checks the rest of its
 * flags after it, as it always has. It decides nothing: the core service the
 * tenant is handed to authorizes the action.
 */
export function cliTenant(admin: Pick<AdminService, 'visibleTenant'>, reference: string): Promise<Tenant> {
  return admin.visibleTenant(CLI_PRINCIPAL, reference);
}

/** The context of one CLI write: the operating-system user as actor, a fresh request id. */
export function cliContext(): RequestContext {
  return { actor: { type: 'cli', id: userInfo().username }, requestId: `cli-${randomUUID()}` };
}

/** A usage error: printed without a stack trace. */
export class CliUsageError extends Error {}

export interface JsonFlag {
  json?: boolean;
}

/** `--json`, on every command that prints a result. */
export const jsonOption = () => new Option('--json', 'print machine-readable JSON');

/** `--tenant <tenant>` as a required option: the tenant a command acts in. */
export const requireTenant = (command: Command): Command => command.requiredOption('--tenant <tenant>', 'tenant slug or id');

/** Prints `value` as JSON with `--json`, `human` otherwise. */
export function print(flags: JsonFlag, value: unknown, human: string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
}

type RuntimeWork<T> = (runtime: Runtime, config: HubConfig) => Promise<T>;

/** Runs one CLI command against the database, whether the hub is running or not. */
export async function withRuntime<T>(...args: [work: RuntimeWork<T>] | [options: RuntimeOptions, work: RuntimeWork<T>]): Promise<T> {
  const [options, work] = args.length === 1 ? [{}, args[0]] : args;
  const config = loadConfig();
  const runtime = await openRuntime(config, 'client', undefined, undefined, options);
  try {
    return await work(runtime, config);
  } finally {
    await runtime.close();
  }
}

/** A JSON file given by an option; a file that is missing or not JSON is a usage error. */
export async function readJsonFile(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new CliUsageError(`Cannot read ${file} as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * A whole number as typed (`30`, `-1`); anything else (`1.5`, `1e3`, `0x10`,
 * `abc`, ``) is NaN, so that the core refuses it with the valid range rather
 * than reading it as something else.
 */
export function parseWholeNumber(text: string): number {
  return /^[+-]?\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
}

/** A count given by `option`: digits only, else a usage error. */
export function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text)) throw new CliUsageError(`${option} is a whole number.`);
  return Number(text);
}

/** An ISO 8601 date-time given by `option`, if given. */
export function parseInstant(value: string | undefined, option: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new CliUsageError(`${option} must be an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z.`);
  return date;
}
