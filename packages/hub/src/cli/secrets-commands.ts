import { pendingPasswordContext } from '@meridian/core';
import { targetSecretsContext } from '@meridian/replication';
import {
  openSecretBox,
  PostgresSealedSecrets,
  type SealedColumn,
  type SealedColumnReport,
  type SealedEnvelope,
  type SecretBox,
} from '@meridian/store';
import type { Command } from 'commander';
import { type JsonFlag, jsonOption, print, withRuntime } from './common.js';

/** One column that holds SecretBox envelopes, and the context each envelope is bound to. */
interface SealedPlace {
  name: SealedColumn;
  label: string;
  context(envelope: SealedEnvelope): string;
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
    context: (envelope) => targetSecretsContext(envelope.tenantId as string),
  },
  {
    name: 'directory_export.sealed_secrets',
    label: 'directory export credentials',
    context: (envelope) => `directory_export:${envelope.communityId}`,
  },
  {
    name: 'pending_password.ciphertext',
    label: 'passwords on their way to targets',
    context: (envelope) => pendingPasswordContext(envelope.tenantId as string, envelope.userId as string),
  },
];

interface PlaceReport extends Omit<SealedColumnReport, 'failures'> {
  name: string;
  label: string;
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

async function rotatePlace(
  store: PostgresSealedSecrets,
  box: SecretBox,
  place: SealedPlace,
  dryRun: boolean,
  failures: Failure[],
): Promise<PlaceReport> {
  const { failures: failed, ...counts } = await store.rotate(place.name, box, place.context, { dryRun });
  for (const f of failed) failures.push({ place: place.name, ...f });
  return { name: place.name, label: place.label, ...counts };
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
        const store = new PostgresSealedSecrets(runtime.orm);
        for (const place of PLACES) places.push(await rotatePlace(store, box, place, dryRun, failures));
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
