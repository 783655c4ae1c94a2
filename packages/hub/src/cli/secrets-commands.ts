import { pendingPasswordContext } from '@meridian/core';
import { targetSecretsContext } from '@meridian/replication';
import { forkForPlatform, openSecretBox, type SecretBox, SecretBoxError } from '@meridian/store';
import type { Command } from 'commander';
import type { Runtime } from '../runtime/runtime.js';
import { type JsonFlag, jsonOption, print, withRuntime } from './common.js';

interface SealedRow {
  id: string;
  sealed: string;
  tenant_id: string | null;
  community_id: string | null;
  user_id: string | null;
}

/** One column that holds SecretBox envelopes, and the context each row's envelope is bound to. */
interface SealedPlace {
  name: string;
  label: string;
  table: string;
  column: string;
  /** The columns the context is made of, selected as `tenant_id`, `community_id` and `user_id` (null when unused). */
  select: string;
  context(row: SealedRow): string;
}

/**
 * Every place the hub keeps SecretBox envelopes. The contexts are the ones
 * the writers seal with: `targetSecretsContext` (replication), the
 * `directory_export:<community id>` of the directory exports, and
 * `pendingPasswordContext` (core). An envelope opened under another context
 * fails authentication, so `packages/hub/test/secrets-rotate.test.ts` reads
 * each one back through the code that uses it.
 */
const PLACES: readonly SealedPlace[] = [
  {
    name: 'replication_target.secrets',
    label: 'replication target credentials',
    table: 'replication_target',
    column: 'secrets',
    select: 'tenant_id, null::uuid as community_id, null::uuid as user_id',
    context: (row) => targetSecretsContext(row.tenant_id as string),
  },
  {
    name: 'directory_export.sealed_secrets',
    label: 'directory export credentials',
    table: 'directory_export',
    column: 'sealed_secrets',
    select: 'null::uuid as tenant_id, community_id, null::uuid as user_id',
    context: (row) => `directory_export:${row.community_id}`,
  },
  {
    name: 'pending_password.ciphertext',
    label: 'passwords on their way to targets',
    table: 'pending_password',
    column: 'ciphertext',
    select: 'tenant_id, null::uuid as community_id, user_id',
    context: (row) => pendingPasswordContext(row.tenant_id as string, row.user_id as string),
  },
];

/** Rows per transaction: each batch is locked, re-sealed and committed on its own. */
const BATCH = 200;

interface PlaceReport {
  name: string;
  label: string;
  /** Envelopes found. */
  sealed: number;
  /** Sealed with the primary key already (and they open). */
  current: number;
  /** Sealed with another configured key: re-sealed, or to be re-sealed on a dry run. */
  stale: number;
  /** Written under the primary key by this run (0 on a dry run). */
  resealed: number;
  /** Envelopes that do not open: malformed, sealed with a key that is not configured, or altered. */
  failed: number;
  /** Envelopes found per key id, before this run. */
  byKey: Record<string, number>;
}

interface Failure {
  place: string;
  id: string;
  code: string;
  message: string;
}

interface RotationReport {
  dryRun: boolean;
  primaryKeyId: string;
  sealed: number;
  current: number;
  stale: number;
  resealed: number;
  failed: number;
  places: PlaceReport[];
  failures: Failure[];
}

/** The key id an envelope names, for the report; `?` when it is not an envelope. */
function keyIdOf(envelope: string): string {
  const [version, keyId] = envelope.split(':');
  return version === 'v1' && keyId ? keyId : '?';
}

async function rotatePlace(
  runtime: Runtime,
  box: SecretBox,
  place: SealedPlace,
  dryRun: boolean,
  failures: Failure[],
): Promise<PlaceReport> {
  const report: PlaceReport = { name: place.name, label: place.label, sealed: 0, current: 0, stale: 0, resealed: 0, failed: 0, byKey: {} };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const last = await forkForPlatform(runtime.orm).transactional(async (em) => {
      // Locked while re-sealed, so a concurrent change of the same row waits for this batch.
      const rows = await em.execute<SealedRow[]>(
        `select id, ${place.column} as sealed, ${place.select} from ${place.table}
          where ${place.column} is not null and id > ? order by id limit ${BATCH}${dryRun ? '' : ' for update'}`,
        [after],
      );
      for (const row of rows) {
        report.sealed++;
        const keyId = keyIdOf(row.sealed);
        report.byKey[keyId] = (report.byKey[keyId] ?? 0) + 1;
        try {
          const context = place.context(row);
          if (!box.needsReencryption(row.sealed)) {
            box.decrypt(row.sealed, context);
            report.current++;
            continue;
          }
          const resealed = box.reencrypt(row.sealed, context);
          report.stale++;
          if (!dryRun) {
            await em.execute(`update ${place.table} set ${place.column} = ? where id = ?`, [resealed, row.id]);
            report.resealed++;
          }
        } catch (error) {
          if (!(error instanceof SecretBoxError)) throw error;
          report.failed++;
          failures.push({ place: place.name, id: row.id, code: error.code, message: error.message });
        }
      }
      return rows.at(-1)?.id;
    });
    if (last === undefined) return report;
    after = last;
  }
}

function describeReport(report: RotationReport): string {
  const lines = [`Primary key: ${report.primaryKeyId}.`];
  for (const p of report.places) {
    const keys = Object.entries(p.byKey)
      .map(([id, n]) => `${id} ${n}`)
      .join(', ');
    const done = report.dryRun ? `${p.stale} to re-seal` : `${p.resealed} re-sealed`;
    lines.push(
      `${p.label} (${p.name}): ${p.sealed} sealed${keys ? ` (${keys})` : ''}, ${p.current} current, ${done}${p.failed ? `, ${p.failed} failed` : ''}`,
    );
  }
  for (const f of report.failures) lines.push(`failed: ${f.place} ${f.id}: ${f.message}`);
  if (report.dryRun) {
    lines.push(`Dry run: ${report.stale} of ${report.sealed} would be re-sealed with ${report.primaryKeyId}; nothing was written.`);
  } else {
    lines.push(`Re-sealed ${report.resealed} of ${report.sealed} with ${report.primaryKeyId}.`);
  }
  if (report.failed > 0) {
    lines.push(`${report.failed} could not be opened with the configured keys: keep every old key until they are fixed.`);
  } else if (!report.dryRun) {
    lines.push(
      `Every sealed value uses ${report.primaryKeyId}. Once every hub process runs with it first and a --dry-run shows nothing to re-seal, remove the old keys.`,
    );
  }
  return lines.join('\n');
}

/**
 * `meridian secrets rotate`: re-seals every SecretBox envelope in the database
 * (target and directory export credentials, pending passwords) with the
 * primary key, the first of `MERIDIAN_SECRET_KEYS` or of the key file. The
 * other configured keys open the old envelopes; once none is left, they can go
 * (docs/security.md, "Encrypted secrets at rest").
 */
export function registerSecretsCommands(program: Command): void {
  const secrets = program.command('secrets').description('secrets encrypted at rest with the SecretBox (MERIDIAN_SECRET_KEYS)');
  secrets
    .command('rotate')
    .description('re-seal every encrypted secret with the primary key (the first of MERIDIAN_SECRET_KEYS); exit 1 if any does not open')
    .option('--dry-run', 'count what would be re-sealed and check that everything opens; write nothing')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { dryRun?: boolean }) =>
      withRuntime(async (runtime, config) => {
        const box = await openSecretBox({ configured: config.secretKeys, dataDir: config.dataDir });
        const dryRun = flags.dryRun === true;
        const failures: Failure[] = [];
        const places: PlaceReport[] = [];
        for (const place of PLACES) places.push(await rotatePlace(runtime, box, place, dryRun, failures));
        const sum = (key: 'sealed' | 'current' | 'stale' | 'resealed' | 'failed') => places.reduce((n, p) => n + p[key], 0);
        const report: RotationReport = {
          dryRun,
          primaryKeyId: box.currentKeyId,
          sealed: sum('sealed'),
          current: sum('current'),
          stale: sum('stale'),
          resealed: sum('resealed'),
          failed: sum('failed'),
          places,
          failures,
        };
        print(flags, report, describeReport(report));
        if (report.failed > 0) process.exitCode = 1;
      }),
    );
}
