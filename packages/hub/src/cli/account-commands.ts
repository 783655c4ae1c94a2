import type { OffboardingOutcome, OffboardingRecord } from '@meridian/core';
import type { Command } from 'commander';
import {
  CLI_PRINCIPAL,
  cliContext,
  cliTenant,
  type JsonFlag,
  jsonOption,
  parseCount,
  parseInstant,
  print,
  requireTenant,
  withRuntime,
} from './common.js';

interface OffboardFlags extends JsonFlag {
  tenant: string;
  user: string;
  successor: string;
  at?: string;
  graceDays?: string;
  keepGroups?: string;
  moveGroups: boolean;
  dryRun?: boolean;
}

/** One line per thing an offboarding moves, for people; `--json` prints the whole plan. */
function describeOutcome(outcome: OffboardingOutcome): string {
  const { plan, offboarding } = outcome;
  const lines = [
    `${outcome.dryRun ? 'Would offboard' : 'Offboarding'} ${plan.leaver.userName} (${plan.leaver.id}) to ${plan.successor.userName} (${plan.successor.id}) at ${plan.runAt.toISOString()}:`,
    ...plan.groups.map(
      (g) =>
        `  group ${g.displayName}: ${g.action === 'move' ? `moves${g.successorAlreadyMember ? ' (successor already a member)' : ''}` : 'kept by the leaver until deletion'}`,
    ),
    ...plan.entitlements.map((e) => `  entitlement ${e.value}${e.successorHas ? ' (successor has it)' : ': to the successor'}`),
    ...plan.roles.map((r) => `  role ${r.value}${r.successorHas ? ' (successor has it)' : ': to the successor'}`),
    ...plan.directReports.map((r) => `  direct report ${r.userName}: manager becomes ${plan.successor.userName}`),
    ...plan.transfers.map(
      (t) =>
        `  target ${t.target}: transfer owned objects of ${t.leaverRemoteId} to ${t.successorRemoteId ?? '(successor not pushed yet: retried until it is)'}`,
    ),
    ...plan.skippedTargets.map(
      (t) =>
        `  target ${t.target}: no transfer (${t.reason === 'not_capable' ? 'the connector cannot transfer ownership' : 'the leaver is not at this target'})`,
    ),
    `  then suspended (active false, tokens revoked, SSO grants ended); deleted at ${plan.deleteAt.toISOString()} (grace ${plan.graceDays} days)`,
  ];
  if (offboarding) lines.push(`Offboarding ${offboarding.id}: ${offboarding.status}.`);
  return lines.join('\n');
}

function describeRecord(record: OffboardingRecord): string {
  return [
    `${record.id}\t${record.status}\t${record.plan.leaver.userName} -> ${record.plan.successor.userName}\trun ${record.runAt.toISOString()}\tdelete ${record.deleteAt.toISOString()}`,
    ...record.transfers.map(
      (t) =>
        `  ${t.target}: ${t.status}${t.transferred !== null ? ` (${t.transferred} objects)` : ''}${t.lastError ? `: ${t.lastError}` : ''}`,
    ),
  ].join('\n');
}

/** `meridian account …`: leavers with a successor (docs/offboarding.md). */
export function registerAccountCommands(program: Command): void {
  const account = program.command('account').description('accounts: leavers with a successor (offboarding)');

  requireTenant(
    account
      .command('offboard')
      .description(
        "hand a leaver's groups, entitlements, roles, reports and owned objects to a successor, suspend, delete after the grace period",
      ),
  )
    .requiredOption('--user <user>', 'the leaver: User id or userName')
    .requiredOption('--successor <user>', 'the successor: User id or userName')
    .option('--at <time>', 'a scheduled leave (ISO 8601 date-time); now when omitted')
    .option('--grace-days <days>', 'days from the leave to the deletion, 0 to 3650 (default 30)')
    .option('--keep-groups <groups>', 'comma-separated group ids or displayNames that stay with the leaver instead of moving')
    .option('--no-move-groups', 'move no group membership to the successor')
    .option('--dry-run', 'show what would move, where, and change nothing')
    .addOption(jsonOption())
    .action(async (flags: OffboardFlags) => {
      const at = parseInstant(flags.at, '--at');
      const graceDays = flags.graceDays === undefined ? undefined : parseCount(flags.graceDays, '--grace-days');
      await withRuntime(async ({ admin, offboarding }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const outcome = await offboarding.offboard(
          CLI_PRINCIPAL,
          tenant,
          {
            user: flags.user,
            successor: flags.successor,
            at,
            graceDays,
            policy: {
              moveGroups: flags.moveGroups,
              keepGroups: flags.keepGroups
                ? flags.keepGroups
                    .split(',')
                    .map((g) => g.trim())
                    .filter(Boolean)
                : [],
            },
            dryRun: flags.dryRun ?? false,
          },
          cliContext(),
        );
        print(flags, outcome, describeOutcome(outcome));
      });
    });

  requireTenant(
    account
      .command('offboard-cancel')
      .description('cancel a scheduled or suspended offboarding before the deletion; the leaver stays as it is'),
  )
    .requiredOption('--user <user>', 'the leaver (id or userName) or the offboarding id')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant: string; user: string }) =>
      withRuntime(async ({ admin, offboarding }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const cancelled = await offboarding.cancel(CLI_PRINCIPAL, tenant, flags.user, cliContext());
        print(flags, cancelled, `Cancelled offboarding ${cancelled.id} of ${cancelled.plan.leaver.userName}.`);
      }),
    );

  requireTenant(
    account.command('offboardings').description("list a tenant's offboardings (or one, --id) with each transfer's outcome per target"),
  )
    .option('--id <id>', 'one offboarding')
    .option('--limit <n>', 'at most this many, newest first (default 100)')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant: string; id?: string; limit?: string }) =>
      withRuntime(async ({ admin, offboarding }) => {
        const tenant = await cliTenant(admin, flags.tenant);
        const records = flags.id
          ? [await offboarding.get(CLI_PRINCIPAL, tenant, flags.id)]
          : await offboarding.list(CLI_PRINCIPAL, tenant, flags.limit === undefined ? 100 : parseCount(flags.limit, '--limit'));
        print(flags, flags.id ? records[0] : records, records.map(describeRecord).join('\n') || 'No offboardings.');
      }),
    );

  account
    .command('offboard-run-due')
    .description('run the offboarding steps that are due now (worker processes do this every 30 seconds)')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag) =>
      withRuntime(async ({ offboarding }) => {
        const ran = await offboarding.runDue();
        print(flags, { ran }, `${ran} step(s) run.`);
      }),
    );
}
