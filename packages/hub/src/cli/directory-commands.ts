import { MeridianError, type PeopleSortField, parseScimFilter } from '@meridian/core';
import { type Command, Option } from 'commander';
import { CLI_PRINCIPAL, CliUsageError, cliContext, parseCount, print, withRuntime } from './common.js';
import { registerDirectoryExportCommands } from './directory-export-commands.js';
import {
  accountView,
  type CommunityFlags,
  collect,
  conflictView,
  describeConflict,
  describePerson,
  describeRules,
  inCommunity,
  naming,
  parseAuthority,
  personDetail,
  SHOWN_ATTRIBUTES,
  SORT_FIELDS,
  table,
  tenantSlugs,
} from './directory-views.js';
import { startProgress } from './progress.js';

/**
 * `meridian directory …`: a community's global directory (issue 6, ADR 0015):
 * people, conflicts, correlation and authority rules, links by hand, pins,
 * rebuilds, and exports to external directories. The CLI acts as the platform
 * admin; every write is audited with the CLI user as actor.
 */
export function registerDirectoryCommands(program: Command): void {
  const directory = program.command('directory').description("a community's global directory: one entry per person across its tenants");

  inCommunity(
    directory
      .command('people')
      .description('a page of people with their accounts')
      .option('--filter <filter>', 'a SCIM filter over the person, e.g. \'department eq "Sales"\'')
      .option('--department <department>', 'only people of this department')
      .option('--tenant <tenant>', 'only people with an account in this tenant (slug or id)')
      .option('--first <n>', 'people per page (up to 500)', '50')
      .option('--after <cursor>', 'the endCursor of the previous page')
      .addOption(new Option('--sort <field>', 'sort key').choices(SORT_FIELDS).default('displayName'))
      .option('--desc', 'sort descending'),
  ).action(
    async (
      flags: CommunityFlags & {
        filter?: string;
        department?: string;
        tenant?: string;
        first: string;
        after?: string;
        sort: PeopleSortField;
        desc?: boolean;
      },
    ) =>
      withRuntime((runtime) =>
        naming({}, async () => {
          const first = parseCount(flags.first, '--first');
          const filter = flags.filter === undefined ? undefined : parseScimFilter(flags.filter);
          const { community, page } = await runtime.directory.people(CLI_PRINCIPAL, {
            community: flags.community,
            first,
            after: flags.after,
            where: {
              ...(flags.department !== undefined ? { department: flags.department } : {}),
              ...(flags.tenant !== undefined ? { tenant: flags.tenant } : {}),
            },
            filter,
            sortBy: flags.sort,
            descending: flags.desc === true,
            withTotalCount: true,
          });
          const [accounts, slugs] = await Promise.all([
            runtime.directory.store.accountsOfPeople(
              community.id,
              page.items.map((p) => p.id),
            ),
            tenantSlugs(runtime, CLI_PRINCIPAL, community),
          ]);
          const people = page.items.map((p) => ({
            id: p.id,
            displayName: p.values.displayName ?? null,
            email: p.values.email ?? null,
            employeeNumber: p.values.employeeNumber ?? null,
            department: p.values.department ?? null,
            active: p.active,
            conflictCount: p.conflictCount,
            accounts: accounts.filter((a) => a.personId === p.id).map((a) => accountView(a, slugs)),
          }));
          const rows = people.map((p) => [
            p.id,
            p.displayName ?? '-',
            p.employeeNumber ?? '-',
            p.department ?? (p.conflictCount ? '(conflict)' : '-'),
            p.accounts.map((a) => `${a.tenant}:${a.userName}`).join(', '),
          ]);
          const more = page.hasNextPage ? `; next page: --after ${page.endCursor}` : '';
          print(
            flags,
            { totalCount: page.totalCount, endCursor: page.endCursor, hasNextPage: page.hasNextPage, people },
            people.length === 0
              ? 'No people.'
              : `${table([['ID', 'DISPLAY NAME', 'EMPLOYEE', 'DEPARTMENT', 'ACCOUNTS'], ...rows])}\n${people.length} of ${page.totalCount} people${more}`,
          );
        }),
      ),
  );

  inCommunity(directory.command('person').description('one person: resolved values, where each came from, accounts, conflicts'))
    .argument('<id>', 'person id')
    .action(async (id: string, flags: CommunityFlags) =>
      withRuntime((runtime) =>
        naming({}, async () => {
          const community = await runtime.directory.community(CLI_PRINCIPAL, 'people.read', flags.community);
          const person = await runtime.directory.person(CLI_PRINCIPAL, id, community.id);
          const detail = await personDetail(runtime, CLI_PRINCIPAL, community, person);
          print(flags, detail, describePerson(detail));
        }),
      ),
    );

  inCommunity(
    directory
      .command('conflicts')
      .description('what the rules could not settle, oldest first')
      .option('--first <n>', 'conflicts per page (up to 500)', '100')
      .option('--after <cursor>', 'the endCursor of the previous page'),
  ).action(async (flags: CommunityFlags & { first: string; after?: string }) =>
    withRuntime((runtime) =>
      naming({}, async () => {
        const community = await runtime.directory.community(CLI_PRINCIPAL, 'people.read', flags.community);
        const page = await runtime.directory.conflicts(CLI_PRINCIPAL, community.id, {
          first: parseCount(flags.first, '--first'),
          ...(flags.after !== undefined ? { after: flags.after } : {}),
        });
        const slugs = await tenantSlugs(runtime, CLI_PRINCIPAL, community);
        const conflicts = page.items.map((c) => conflictView(c, slugs));
        const more = page.hasNextPage ? `\nnext page: --after ${page.endCursor}` : '';
        print(
          flags,
          { totalCount: page.totalCount, endCursor: page.endCursor, hasNextPage: page.hasNextPage, conflicts },
          conflicts.length === 0 ? 'No conflicts.' : `${table(conflicts.map(describeConflict))}${more}`,
        );
      }),
    ),
  );

  inCommunity(
    directory
      .command('rules')
      .description('show the correlation and authority rules; with options, replace them (every account is projected again)')
      .option(
        '--correlation <attributes>',
        "attributes that link accounts, in order: employeeNumber,email,externalId,userName; '' for none",
      )
      .option(
        '--authority <rule>',
        "<attribute>=<tenant>[,<tenant>…]: whose value wins, first with a value first (repeatable; 'none' clears them)",
        collect,
      ),
  ).action(async (flags: CommunityFlags & { correlation?: string; authority?: string[] }) =>
    withRuntime((runtime) =>
      naming({ correlation: '--correlation', authority: '--authority' }, async () => {
        const community = await runtime.directory.community(CLI_PRINCIPAL, 'people.read', flags.community);
        if (flags.correlation === undefined && flags.authority === undefined) {
          const rules = await runtime.directory.rules(CLI_PRINCIPAL, community.id);
          print(flags, rules, describeRules(rules, community));
          return;
        }
        const correlation =
          flags.correlation === undefined
            ? undefined
            : flags.correlation
                .split(',')
                .map((a) => a.trim())
                .filter(Boolean);
        const authority = flags.authority === undefined ? undefined : parseAuthority(flags.authority);
        const rules = await runtime.directory.setRules(CLI_PRINCIPAL, community.id, { correlation, authority }, cliContext());
        print(flags, rules, `${describeRules(rules, community)}\nEvery account of ${community.slug} is queued for projection again.`);
      }),
    ),
  );

  const account = (command: Command) =>
    inCommunity(
      command
        .requiredOption('--tenant <tenant>', 'the tenant of the account (slug or id)')
        .requiredOption('--account <userId>', 'the User id of the account'),
    );

  account(directory.command('link').description('link an account to a person by hand; the rules leave it there until `release`'))
    .requiredOption('--person <personId>', 'the person it belongs to')
    .action(async (flags: CommunityFlags & { tenant: string; account: string; person: string }) =>
      withRuntime((runtime) =>
        naming({}, async () => {
          const community = await runtime.directory.community(CLI_PRINCIPAL, 'people.manage', flags.community);
          const person = await runtime.directory.link(
            CLI_PRINCIPAL,
            { community: community.id, tenant: flags.tenant, account: flags.account, person: flags.person },
            cliContext(),
          );
          const detail = await personDetail(runtime, CLI_PRINCIPAL, community, person);
          print(flags, detail, `Linked ${flags.tenant}/${flags.account} to person ${person.id} by hand.\n${describePerson(detail)}`);
        }),
      ),
    );

  account(directory.command('unlink').description('take an account out of its person into a person of its own, by hand')).action(
    async (flags: CommunityFlags & { tenant: string; account: string }) =>
      withRuntime((runtime) =>
        naming({}, async () => {
          const community = await runtime.directory.community(CLI_PRINCIPAL, 'people.manage', flags.community);
          const person = await runtime.directory.unlink(
            CLI_PRINCIPAL,
            { community: community.id, tenant: flags.tenant, account: flags.account },
            cliContext(),
          );
          const detail = await personDetail(runtime, CLI_PRINCIPAL, community, person);
          print(flags, detail, `Unlinked ${flags.tenant}/${flags.account}: it is person ${person.id} now.`);
        }),
      ),
  );

  account(directory.command('release').description('hand an account linked or unlinked by hand back to the correlation rules')).action(
    async (flags: CommunityFlags & { tenant: string; account: string }) =>
      withRuntime((runtime) =>
        naming({}, async () => {
          const community = await runtime.directory.community(CLI_PRINCIPAL, 'people.manage', flags.community);
          await runtime.directory.release(
            CLI_PRINCIPAL,
            { community: community.id, tenant: flags.tenant, account: flags.account },
            cliContext(),
          );
          print(
            flags,
            { released: { tenant: flags.tenant, account: flags.account } },
            `Released ${flags.tenant}/${flags.account}: the rules place it at its next projection.`,
          );
        }),
      ),
  );

  inCommunity(
    directory
      .command('pin')
      .description("settle an attribute of a person: one tenant's value wins (--unpin: the rules decide again)")
      .requiredOption('--person <personId>', 'the person')
      .requiredOption('--attribute <attribute>', `one of ${SHOWN_ATTRIBUTES.join(', ')}`)
      .option('--tenant <tenant>', 'the tenant whose account gives the value (slug or id)')
      .option('--unpin', 'remove the pin'),
  ).action(async (flags: CommunityFlags & { person: string; attribute: string; tenant?: string; unpin?: boolean }) => {
    if ((flags.tenant === undefined) === !flags.unpin) throw new CliUsageError('Give --tenant <tenant>, or --unpin.');
    await withRuntime((runtime) =>
      naming({ id: '--person' }, async () => {
        const community = await runtime.directory.community(CLI_PRINCIPAL, 'people.manage', flags.community);
        const attribute = SHOWN_ATTRIBUTES.find((a) => a.toLowerCase() === flags.attribute.trim().toLowerCase());
        const person = await runtime.directory.pin(
          CLI_PRINCIPAL,
          { community: community.id, person: flags.person, attribute: flags.attribute, tenant: flags.tenant ?? null },
          cliContext(),
        );
        const detail = await personDetail(runtime, CLI_PRINCIPAL, community, person);
        print(
          flags,
          detail,
          flags.unpin
            ? `Unpinned ${attribute ?? flags.attribute} of ${person.id}: the rules decide it again.`
            : `Pinned ${attribute ?? flags.attribute} of ${person.id} to ${flags.tenant}: ${(attribute && detail.values[attribute]) ?? '(no value)'}.`,
        );
      }),
    );
  });

  inCommunity(
    directory
      .command('rebuild')
      .description('queue every account and group of the community for projection again (after a restore)')
      .option('--wait', 'also relay pending changes and project everything due in this process, then report'),
  ).action(async (flags: CommunityFlags & { wait?: boolean }) =>
    withRuntime((runtime) =>
      naming({}, async () => {
        const community = await runtime.directory.community(CLI_PRINCIPAL, 'people.manage', flags.community);
        const queued = await runtime.directory.rebuild(CLI_PRINCIPAL, community.id);
        if (!flags.wait) {
          print(flags, { queued }, `Queued ${queued} accounts and groups of ${community.slug}; the hub's projector takes them up.`);
          return;
        }
        const projector = runtime.replication.projector;
        if (!projector) throw new MeridianError('UNAVAILABLE', 'The global directory projector is not available in this process.');
        // The relay first: changes not yet dispatched from the outbox would otherwise be projected after this report.
        const relayed = await runtime.replication.relay.drain();
        const progress = startProgress(`Projecting ${community.slug}`, { total: queued, json: flags.json === true });
        let projected = 0;
        for (;;) {
          const step = await projector.runOnce();
          if (step === 0) break;
          projected += step;
          progress.advance(step);
        }
        progress.done();
        // What is left failed (it waits with its error and a growing delay) or is in another projector's hands right now.
        const pending = await runtime.directory.store.pendingProjections(community.id);
        print(
          flags,
          { queued, relayed, projected, pending },
          `Queued ${queued} accounts and groups of ${community.slug}; projected ${projected}.${pending ? ` ${pending} still waiting (a failing entry is retried later).` : ''}`,
        );
      }),
    ),
  );

  registerDirectoryExportCommands(directory);
}
