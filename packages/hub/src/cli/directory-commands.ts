import {
  type Community,
  type DirectoryAccount,
  type DirectoryConflict,
  type DirectoryExport,
  type DirectoryExportCounts,
  type DirectoryRulesView,
  isMeridianError,
  MeridianError,
  PERSON_ATTRIBUTES,
  type PeopleSortField,
  type Person,
  type PersonAttribute,
  type Principal,
  parseScimFilter,
  type RequestContext,
} from '@meridian/core';
import { type Command, Option } from 'commander';
import type { Runtime } from '../runtime/runtime.js';

/** What the `directory` commands borrow from the CLI (main.ts). */
export interface DirectoryCommandHelpers {
  withRuntime<T>(work: (runtime: Runtime) => Promise<T>): Promise<T>;
  print(flags: { json?: boolean }, value: unknown, human: string): void;
  context(): RequestContext;
  principal: Principal;
  usageError(message: string): Error;
}

interface CommunityFlags {
  json?: boolean;
  community: string;
}

const json = () => new Option('--json', 'print machine-readable JSON');
const SORT_FIELDS: readonly PeopleSortField[] = ['displayName', 'familyName', 'employeeNumber', 'createdAt', 'updatedAt'];
/** Attributes a person shows; the manager is a person id of its own (`managerPersonId`). */
const SHOWN_ATTRIBUTES = PERSON_ATTRIBUTES.filter((a): a is Exclude<PersonAttribute, 'manager'> => a !== 'manager');

/**
 * The option each service field stands for, so that an error about `field`
 * names what the user typed. A dotted field (`authority.0.tenants`) is looked
 * up whole, then by its first segment.
 */
type OptionNames = Record<string, string>;

const COMMON_OPTIONS: OptionNames = {
  community: '--community',
  tenant: '--tenant',
  account: '--account',
  person: '--person',
  attribute: '--attribute',
  first: '--first',
  after: '--after',
  cursor: '--after',
  filter: '--filter',
};

/** Runs `work`; a MeridianError about an input field comes back with the option's name in front of its message. */
async function naming<T>(options: OptionNames, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isMeridianError(error) || error.field === undefined) throw error;
    const root = error.field.split('.')[0] ?? error.field;
    const option = options[error.field] ?? options[root] ?? COMMON_OPTIONS[error.field] ?? COMMON_OPTIONS[root];
    if (option === undefined || error.message.startsWith(option)) throw error;
    throw new MeridianError(error.code, `${option}: ${error.message}`, { field: error.field, cause: error });
  }
}

/** Rows of cells as columns padded to their widest cell. */
function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function parseCount(text: string | undefined, option: string, fail: (m: string) => Error): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw fail(`${option} is a whole number.`);
  return Number(text);
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Tenant slugs by id, for the community's tenants. */
async function tenantSlugs(runtime: Runtime, principal: Principal, community: Community): Promise<Map<string, string>> {
  const page = await runtime.admin.listTenants(principal, { first: 500 }, community.id);
  return new Map(page.items.map((t) => [t.id, t.slug]));
}

/** An account as the CLI prints it: its tenant by slug, its User id (what `--account` takes). */
function accountView(a: DirectoryAccount, slugs: Map<string, string>) {
  return {
    tenant: slugs.get(a.tenantId) ?? a.tenantId,
    userId: a.userId,
    userName: a.userName,
    link: a.link,
    pinned: a.pinned,
    active: a.active,
  };
}

function conflictView(c: DirectoryConflict, slugs: Map<string, string>) {
  return {
    id: c.id,
    kind: c.kind,
    personId: c.personId,
    attribute: c.attribute,
    tenant: c.tenantId === null ? null : (slugs.get(c.tenantId) ?? c.tenantId),
    account: c.userId,
    candidates: c.candidates.map((candidate) =>
      'personId' in candidate
        ? { personId: candidate.personId, rule: candidate.rule }
        : { tenant: slugs.get(candidate.tenantId) ?? candidate.tenantId, account: candidate.userId, value: candidate.value },
    ),
    createdAt: c.createdAt,
  };
}

function describeConflict(c: ReturnType<typeof conflictView>): string[] {
  if (c.kind === 'attribute') {
    const values = c.candidates.map((v) => ('value' in v ? `${v.tenant}=${v.value}` : '')).join(', ');
    return ['attribute', c.attribute ?? '-', `person ${c.personId}`, values];
  }
  const people = c.candidates.map((v) => ('rule' in v ? `${v.personId} (${v.rule})` : '')).join(', ');
  return ['correlation', '-', `account ${c.tenant}/${c.account}`, `matches ${people}`];
}

/** One person with their accounts and open conflicts. */
async function personDetail(runtime: Runtime, principal: Principal, community: Community, person: Person) {
  const [accounts, conflicts, slugs] = await Promise.all([
    runtime.directory.store.accountsOfPeople(community.id, [person.id]),
    runtime.directory.store.conflicts(community.id, { first: 500, personIds: [person.id] }),
    tenantSlugs(runtime, principal, community),
  ]);
  const slug = (id: string) => slugs.get(id) ?? id;
  return {
    id: person.id,
    active: person.active,
    values: person.values,
    managerPersonId: person.managerPersonId,
    sources: Object.fromEntries(
      Object.entries(person.sources).map(([attribute, s]) => [attribute, { tenant: slug(s.tenantId), account: s.userId }]),
    ),
    pinned: Object.fromEntries(Object.entries(person.pinned).map(([attribute, tenantId]) => [attribute, slug(tenantId)])),
    conflictCount: person.conflictCount,
    version: person.version,
    createdAt: person.createdAt,
    updatedAt: person.updatedAt,
    accounts: accounts.map((a) => accountView(a, slugs)),
    conflicts: conflicts.items.map((c) => conflictView(c, slugs)),
  };
}

function describePerson(p: Awaited<ReturnType<typeof personDetail>>): string {
  const conflicted = new Set(p.conflicts.map((c) => c.attribute));
  const values = SHOWN_ATTRIBUTES.flatMap((attribute) => {
    const value = p.values[attribute];
    if (value === undefined && !conflicted.has(attribute)) return [];
    const source = p.sources[attribute];
    const from = source ? `${source.tenant}${p.pinned[attribute] ? ' (pinned)' : ''}` : '';
    return [[`  ${attribute}`, value ?? '(conflict)', from]];
  });
  const accounts = p.accounts.map((a) => [`  ${a.tenant}`, a.userId, a.userName, `${a.link}${a.pinned ? ' (by hand)' : ''}`]);
  return [
    `Person ${p.id}${p.active ? '' : ' (inactive)'}${p.conflictCount ? `, ${p.conflictCount} conflict(s)` : ''}`,
    table(values),
    'Accounts:',
    table(accounts),
  ].join('\n');
}

function describeRules(rules: DirectoryRulesView, community: Community): string {
  return `Rules of ${community.slug}:\n${table([
    ['  correlation', rules.correlation.join(', ') || '(none: accounts are never linked by the rules)'],
    ...rules.authority.map((a) => [`  authority ${a.attribute}`, a.tenants.join(', ')]),
  ])}`;
}

/** `--authority department=amer,emea` as the service takes it; `none` clears every authority rule. */
function parseAuthority(rules: string[], fail: (m: string) => Error): { attribute: string; tenants: string[] }[] {
  if (rules.length === 1 && rules[0] === 'none') return [];
  return rules.map((rule) => {
    const match = /^([^=]+)=(.+)$/.exec(rule.trim());
    if (!match) throw fail(`--authority is <attribute>=<tenant>[,<tenant>…], e.g. department=amer,emea, or none; not '${rule}'.`);
    const tenants = (match[2] ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    return { attribute: (match[1] ?? '').trim(), tenants };
  });
}

function exportView(e: DirectoryExport, counts?: DirectoryExportCounts) {
  return {
    id: e.id,
    name: e.name,
    kind: e.kind,
    config: e.config,
    secretNames: e.secretNames,
    enabled: e.enabled,
    counts: { pending: counts?.pending ?? 0, synced: counts?.synced ?? 0, deleted: counts?.deleted ?? 0, failed: counts?.failed ?? 0 },
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

function exportsOf(runtime: Runtime) {
  const exports = runtime.replication.directoryExports;
  if (!exports) throw new MeridianError('UNAVAILABLE', 'Directory exports are not available in this process.');
  return exports;
}

function exportInput(
  flags: { name: string; kind: string; url?: string; token?: string; config?: string; secret?: string[] },
  fail: (m: string) => Error,
): { name: string; kind: string; config: Record<string, unknown>; secrets: Record<string, string> } {
  let config: Record<string, unknown> = {};
  if (flags.config !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(flags.config);
    } catch {
      throw fail('--config is a JSON object.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fail('--config is a JSON object.');
    config = parsed as Record<string, unknown>;
  }
  if (flags.url !== undefined) config = { ...config, baseUrl: flags.url };
  const secrets: Record<string, string> = {};
  for (const pair of flags.secret ?? []) {
    const at = pair.indexOf('=');
    // The value is never echoed: it is a secret even when the pair is malformed.
    if (at < 1) throw fail('--secret is <name>=<value>, e.g. token=….');
    secrets[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (flags.token !== undefined) secrets.token = flags.token;
  return { name: flags.name, kind: flags.kind, config, secrets };
}

/**
 * `meridian directory …`: a community's global directory (issue 6, ADR 0015):
 * people, conflicts, correlation and authority rules, links by hand, pins,
 * rebuilds, and exports to external directories. The CLI acts as the platform
 * admin; every write is audited with the CLI user as actor.
 */
export function registerDirectoryCommands(program: Command, cli: DirectoryCommandHelpers): void {
  const fail = (message: string) => cli.usageError(message);
  const directory = program.command('directory').description("a community's global directory: one entry per person across its tenants");
  const inCommunity = (command: Command) => command.requiredOption('--community <community>', 'community slug or id').addOption(json());

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
      cli.withRuntime((runtime) =>
        naming({}, async () => {
          const first = parseCount(flags.first, '--first', fail) ?? 50;
          const filter = flags.filter === undefined ? undefined : parseScimFilter(flags.filter);
          const { community, page } = await runtime.directory.people(cli.principal, {
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
            tenantSlugs(runtime, cli.principal, community),
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
          cli.print(
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
      cli.withRuntime((runtime) =>
        naming({}, async () => {
          const community = await runtime.directory.community(cli.principal, 'people.read', flags.community);
          const person = await runtime.directory.person(cli.principal, id, community.id);
          const detail = await personDetail(runtime, cli.principal, community, person);
          cli.print(flags, detail, describePerson(detail));
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
    cli.withRuntime((runtime) =>
      naming({}, async () => {
        const community = await runtime.directory.community(cli.principal, 'people.read', flags.community);
        const page = await runtime.directory.conflicts(cli.principal, community.id, {
          first: parseCount(flags.first, '--first', fail) ?? 100,
          ...(flags.after !== undefined ? { after: flags.after } : {}),
        });
        const slugs = await tenantSlugs(runtime, cli.principal, community);
        const conflicts = page.items.map((c) => conflictView(c, slugs));
        const more = page.hasNextPage ? `\nnext page: --after ${page.endCursor}` : '';
        cli.print(
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
    cli.withRuntime((runtime) =>
      naming({ correlation: '--correlation', authority: '--authority' }, async () => {
        const community = await runtime.directory.community(cli.principal, 'people.read', flags.community);
        if (flags.correlation === undefined && flags.authority === undefined) {
          const rules = await runtime.directory.rules(cli.principal, community.id);
          cli.print(flags, rules, describeRules(rules, community));
          return;
        }
        const correlation =
          flags.correlation === undefined
            ? undefined
            : flags.correlation
                .split(',')
                .map((a) => a.trim())
                .filter(Boolean);
        const authority = flags.authority === undefined ? undefined : parseAuthority(flags.authority, fail);
        const rules = await runtime.directory.setRules(cli.principal, community.id, { correlation, authority }, cli.context());
        cli.print(flags, rules, `${describeRules(rules, community)}\nEvery account of ${community.slug} is queued for projection again.`);
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
      cli.withRuntime((runtime) =>
        naming({}, async () => {
          const community = await runtime.directory.community(cli.principal, 'people.manage', flags.community);
          const person = await runtime.directory.link(
            cli.principal,
            { community: community.id, tenant: flags.tenant, account: flags.account, person: flags.person },
            cli.context(),
          );
          const detail = await personDetail(runtime, cli.principal, community, person);
          cli.print(flags, detail, `Linked ${flags.tenant}/${flags.account} to person ${person.id} by hand.\n${describePerson(detail)}`);
        }),
      ),
    );

  account(directory.command('unlink').description('take an account out of its person into a person of its own, by hand')).action(
    async (flags: CommunityFlags & { tenant: string; account: string }) =>
      cli.withRuntime((runtime) =>
        naming({}, async () => {
          const community = await runtime.directory.community(cli.principal, 'people.manage', flags.community);
          const person = await runtime.directory.unlink(
            cli.principal,
            { community: community.id, tenant: flags.tenant, account: flags.account },
            cli.context(),
          );
          const detail = await personDetail(runtime, cli.principal, community, person);
          cli.print(flags, detail, `Unlinked ${flags.tenant}/${flags.account}: it is person ${person.id} now.`);
        }),
      ),
  );

  account(directory.command('release').description('hand an account linked or unlinked by hand back to the correlation rules')).action(
    async (flags: CommunityFlags & { tenant: string; account: string }) =>
      cli.withRuntime((runtime) =>
        naming({}, async () => {
          const community = await runtime.directory.community(cli.principal, 'people.manage', flags.community);
          await runtime.directory.release(
            cli.principal,
            { community: community.id, tenant: flags.tenant, account: flags.account },
            cli.context(),
          );
          cli.print(
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
    if ((flags.tenant === undefined) === !flags.unpin) throw fail('Give --tenant <tenant>, or --unpin.');
    await cli.withRuntime((runtime) =>
      naming({ id: '--person' }, async () => {
        const community = await runtime.directory.community(cli.principal, 'people.manage', flags.community);
        const attribute = SHOWN_ATTRIBUTES.find((a) => a.toLowerCase() === flags.attribute.trim().toLowerCase());
        const person = await runtime.directory.pin(
          cli.principal,
          { community: community.id, person: flags.person, attribute: flags.attribute, tenant: flags.tenant ?? null },
          cli.context(),
        );
        const detail = await personDetail(runtime, cli.principal, community, person);
        cli.print(
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
    cli.withRuntime((runtime) =>
      naming({}, async () => {
        const community = await runtime.directory.community(cli.principal, 'people.manage', flags.community);
        const queued = await runtime.directory.rebuild(cli.principal, community.id);
        if (!flags.wait) {
          cli.print(flags, { queued }, `Queued ${queued} accounts and groups of ${community.slug}; the hub's projector takes them up.`);
          return;
        }
        const projector = runtime.replication.projector;
        if (!projector) throw new MeridianError('UNAVAILABLE', 'The global directory projector is not available in this process.');
        // The relay first: changes not yet dispatched from the outbox would otherwise be projected after this report.
        const relayed = await runtime.replication.relay.drain();
        const projected = await projector.drain();
        // What is left failed (it waits with its error and a growing delay) or is in another projector's hands right now.
        const pending = await runtime.directory.store.pendingProjections(community.id);
        cli.print(
          flags,
          { queued, relayed, projected, pending },
          `Queued ${queued} accounts and groups of ${community.slug}; projected ${projected}.${pending ? ` ${pending} still waiting (a failing entry is retried later).` : ''}`,
        );
      }),
    ),
  );

  const exportCommand = directory.command('export').description("push the community's directory to an external directory");

  inCommunity(
    exportCommand
      .command('create')
      .description('add an export; every person goes out once, then each change (the serving hub pushes)')
      .requiredOption('--name <name>', 'a name unique in the community')
      .requiredOption('--kind <kind>', 'connector kind: scim, memory')
      .option('--url <url>', 'base URL (config.baseUrl; the SCIM base URL for --kind scim)')
      .option('--token <token>', 'bearer token (the secret token; stored encrypted)')
      .option('--config <json>', 'connector config as a JSON object')
      .option('--secret <name=value>', 'a secret of the connector (repeatable; stored encrypted)', collect),
  ).action(
    async (flags: CommunityFlags & { name: string; kind: string; url?: string; token?: string; config?: string; secret?: string[] }) =>
      cli.withRuntime((runtime) =>
        naming(
          {
            name: '--name',
            kind: '--kind',
            'config.baseUrl': '--url',
            config: '--config',
            'secrets.token': '--token',
            secrets: '--secret',
          },
          async () => {
            const exports = exportsOf(runtime);
            const created = await exports.create(cli.principal, flags.community, exportInput(flags, fail), cli.context());
            const { counts } = await exports.list(cli.principal, created.communityId);
            const view = exportView(
              created,
              counts.find((c) => c.exportId === created.id),
            );
            cli.print(flags, view, `Created export ${created.name} (${created.id}); every person is queued for it.`);
          },
        ),
      ),
  );

  inCommunity(exportCommand.command('list').description('the exports and where the people stand at each')).action(
    async (flags: CommunityFlags) =>
      cli.withRuntime((runtime) =>
        naming({}, async () => {
          const { exports, counts } = await exportsOf(runtime).list(cli.principal, flags.community);
          const views = exports.map((e) =>
            exportView(
              e,
              counts.find((c) => c.exportId === e.id),
            ),
          );
          const rows = views.map((e) => [
            e.name,
            e.kind,
            e.id,
            `pending ${e.counts.pending}, synced ${e.counts.synced}, deleted ${e.counts.deleted}, failed ${e.counts.failed}`,
          ]);
          cli.print(flags, views, views.length === 0 ? 'No exports.' : table(rows));
        }),
      ),
  );

  inCommunity(
    exportCommand
      .command('delete')
      .description('stop an export and forget its links (the objects it made there stay)')
      .requiredOption('--name <name>', 'export name or id'),
  ).action(async (flags: CommunityFlags & { name: string }) =>
    cli.withRuntime((runtime) =>
      naming({ export: '--name' }, async () => {
        await exportsOf(runtime).delete(cli.principal, flags.community, flags.name, cli.context());
        cli.print(flags, { deleted: flags.name }, `Deleted export ${flags.name}.`);
      }),
    ),
  );
}
