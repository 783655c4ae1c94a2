import { readFile } from 'node:fs/promises';
import type { RelyingParty, RelyingPartyChanges, RelyingPartyWithSecret, UpstreamProvider } from '@meridian/core';
import type { Command } from 'commander';
import { CLI_PRINCIPAL, CliUsageError, cliContext, type JsonFlag, jsonOption, parseWholeNumber, print, withRuntime } from './common.js';

interface RpFlags extends JsonFlag {
  community: string;
  name?: string;
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  claims?: string;
  optionalClaims?: string;
  maxCache?: string;
  consent?: string;
  subjectType?: string;
  public?: boolean;
  clientCredentials?: boolean;
  backchannelLogoutUri?: string;
  jitTarget?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function describe(rp: RelyingParty): string {
  const optional = rp.optionalClaims.length > 0 ? ` (optional: ${rp.optionalClaims.join(',')})` : '';
  return `${rp.clientId}\t${rp.name}\t${rp.clientType}\tclaims ${rp.claims.join(',')}${optional}\tcache ${rp.maxCacheSeconds}s\tconsent ${rp.consent}\t${rp.redirectUris.join(' ')}`;
}

/** `--json` prints what an RP needs once: its client id and secret (the secret is never shown again). */
function printSecret(flags: JsonFlag, made: RelyingPartyWithSecret, verb: string): void {
  const { relyingParty: rp, clientSecret } = made;
  const secretLine =
    clientSecret === null
      ? 'Public client: no secret, PKCE only.'
      : `client_secret: ${clientSecret}\nIt is shown this once; Meridian keeps only its hash.`;
  print(flags, { client_id: rp.clientId, client_secret: clientSecret }, `${verb} ${rp.name}.\nclient_id: ${rp.clientId}\n${secretLine}`);
}

function changesOf(flags: RpFlags): RelyingPartyChanges {
  const changes: RelyingPartyChanges = {};
  if (flags.name !== undefined) changes.name = flags.name;
  if (flags.redirectUri !== undefined) changes.redirectUris = flags.redirectUri;
  if (flags.postLogoutRedirectUri !== undefined) changes.postLogoutRedirectUris = flags.postLogoutRedirectUri;
  if (flags.claims !== undefined) changes.claims = flags.claims;
  if (flags.optionalClaims !== undefined) changes.optionalClaims = flags.optionalClaims;
  if (flags.maxCache !== undefined) changes.maxCacheSeconds = parseWholeNumber(flags.maxCache);
  if (flags.consent !== undefined) changes.consent = flags.consent;
  if (flags.subjectType !== undefined) changes.subjectType = flags.subjectType;
  if (flags.clientCredentials !== undefined) changes.clientCredentials = flags.clientCredentials;
  if (flags.backchannelLogoutUri !== undefined) changes.backchannelLogoutUri = flags.backchannelLogoutUri;
  return changes;
}

function registrationOptions(command: Command): Command {
  return command
    .option('--redirect-uri <url>', 'where the person is sent back (https; http only on localhost); repeat for several', collect)
    .option('--post-logout-redirect-uri <url>', 'where the person may be sent after logging out; repeat for several', collect)
    .option('--claims <list>', 'claims it may receive, comma separated: standard claims (email, name, ...) or SCIM attribute paths')
    .option('--optional-claims <list>', 'the part of --claims a person may refuse on the consent page')
    .option('--max-cache <seconds>', 'how long it may keep released attributes (default 86400)')
    .option('--consent <mode>', 'required (the person is asked; default) or implicit')
    .option('--subject-type <type>', 'public (default) or pairwise: a different sub for this relying party')
    .option('--client-credentials', 'it may also get tokens for itself (client credentials)')
    .option('--backchannel-logout-uri <url>', 'where logout tokens are posted (OpenID Connect Back-Channel Logout)')
    .addOption(jsonOption());
}

/** `meridian rp …`: relying parties of a community's OpenID Provider (docs/sso.md). */
export function registerRpCommands(program: Command): void {
  const rp = program.command('rp').description("relying parties: OpenID Connect clients of a community's issuer (docs/sso.md)");
  registerCreateCommand(rp);
  rp.command('list')
    .description('list the relying parties of a community')
    .requiredOption('--community <community>', 'community slug or id')
    .addOption(jsonOption())
    .action(async (flags: RpFlags) =>
      withRuntime(async (runtime) => {
        const list = await runtime.relyingParties.list(CLI_PRINCIPAL, flags.community);
        print(flags, list, list.map(describe).join('\n') || 'No relying parties.');
      }),
    );
  registrationOptions(
    rp
      .command('update')
      .description('change a registration; options not given keep their value')
      .argument('<client-id>', 'the client_id')
      .requiredOption('--community <community>', 'community slug or id')
      .option('--name <name>', 'the name people see on the consent page')
      .option(
        '--jit-target <target-id>',
        'provision on first sign-in through this replication target (repeat for several; none: no longer), docs/provisioning.md',
        collect,
      ),
  ).action(async (clientId: string, flags: RpFlags) =>
    withRuntime(async (runtime) => {
      const changes = changesOf(flags);
      // Only --jit-target: the registration itself does not change (and no empty rp.updated is audited).
      const updated =
        Object.keys(changes).length === 0 && flags.jitTarget !== undefined
          ? await runtime.relyingParties.get(CLI_PRINCIPAL, flags.community, clientId)
          : await runtime.relyingParties.update(CLI_PRINCIPAL, flags.community, clientId, changes, cliContext());
      if (flags.jitTarget === undefined) {
        print(flags, updated, `Updated ${updated.clientId}.\n${describe(updated)}`);
        return;
      }
      const targets = flags.jitTarget.filter((t) => t !== 'none');
      const jit = await runtime.jit.targets.setTargets(CLI_PRINCIPAL, flags.community, clientId, targets, cliContext());
      const linked = jit.map((t) => `${t.tenantSlug}/${t.targetName} (${t.targetId})`).join(', ') || 'none';
      print(flags, { ...updated, jitTargets: jit }, `Updated ${updated.clientId}.\n${describe(updated)}\non first sign-in: ${linked}`);
    }),
  );
  rp.command('delete')
    .description('delete a registration with its grants and tokens')
    .argument('<client-id>', 'the client_id')
    .requiredOption('--community <community>', 'community slug or id')
    .addOption(jsonOption())
    .action(async (clientId: string, flags: RpFlags) =>
      withRuntime(async (runtime) => {
        const deleted = await runtime.relyingParties.delete(CLI_PRINCIPAL, flags.community, clientId, cliContext());
        print(flags, deleted, `Deleted ${deleted.clientId} (${deleted.name}); its tokens no longer work.`);
      }),
    );
  rp.command('rotate-secret')
    .description('replace the client secret; the old one stops working at once')
    .argument('<client-id>', 'the client_id')
    .requiredOption('--community <community>', 'community slug or id')
    .addOption(jsonOption())
    .action(async (clientId: string, flags: RpFlags) =>
      withRuntime(async (runtime) => {
        printSecret(
          flags,
          await runtime.relyingParties.rotateSecret(CLI_PRINCIPAL, flags.community, clientId, cliContext()),
          'Rotated the secret of',
        );
      }),
    );
}

function registerCreateCommand(rp: Command): void {
  registrationOptions(
    rp
      .command('create')
      .description('register a relying party; prints its client_id and client_secret once')
      .requiredOption('--community <community>', 'community slug or id')
      .requiredOption('--name <name>', 'the name people see on the consent page')
      .option('--public', 'a public client (browser or native app): no secret, PKCE required'),
  ).action(async (flags: RpFlags) =>
    withRuntime(async (runtime) => {
      const made = await runtime.relyingParties.create(
        CLI_PRINCIPAL,
        {
          community: flags.community,
          name: flags.name ?? '',
          redirectUris: flags.redirectUri ?? [],
          postLogoutRedirectUris: flags.postLogoutRedirectUri ?? null,
          claims: flags.claims ?? '',
          optionalClaims: flags.optionalClaims ?? null,
          maxCacheSeconds: flags.maxCache === undefined ? null : parseWholeNumber(flags.maxCache),
          consent: flags.consent ?? null,
          subjectType: flags.subjectType ?? null,
          clientType: flags.public ? 'public' : 'confidential',
          clientCredentials: flags.clientCredentials ?? false,
          backchannelLogoutUri: flags.backchannelLogoutUri ?? null,
        },
        cliContext(),
      );
      printSecret(flags, made, 'Registered');
    }),
  );
}

interface UpstreamFlags extends JsonFlag {
  tenant: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  clientSecretFile?: string;
  userNameClaim?: string;
}

function describeUpstream(u: UpstreamProvider): string {
  return `${u.issuer}\tclient ${u.clientId}\tuserName from ${u.userNameClaim}`;
}

/** The upstream client secret: from a file (kept out of the shell history and the process list), or the option. */
async function upstreamSecret(flags: UpstreamFlags): Promise<string> {
  if (flags.clientSecretFile !== undefined) {
    try {
      return (await readFile(flags.clientSecretFile, 'utf8')).trim();
    } catch (error) {
      throw new CliUsageError(`Cannot read ${flags.clientSecretFile}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (flags.clientSecret !== undefined) return flags.clientSecret;
  throw new CliUsageError('Give --client-secret-file <path> (or --client-secret <secret>).');
}

/** `meridian sso upstream …`: an office's own OpenID Provider, where its people may sign in (docs/sso.md). */
export function registerSsoCommands(program: Command): void {
  const sso = program.command('sso').description('single sign-on settings of offices (docs/sso.md)');
  const domains = sso
    .command('domains')
    .description("the email domains of an office's people: a user name in several offices signs in at the one its domain names");
  domains
    .command('set')
    .description("replace an office's email domains (none given: it has none)")
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .option('--domain <domain>', 'an email domain, e.g. emea.example.org (repeat, or comma separated)', collect, [])
    .addOption(jsonOption())
    .action(async (flags: { tenant: string; domain: string[] } & JsonFlag) =>
      withRuntime(async (runtime) => {
        const set = await runtime.upstreamProviders.setEmailDomains(CLI_PRINCIPAL, flags.tenant, flags.domain, cliContext());
        print(flags, { domains: set }, set.length > 0 ? set.join('\n') : 'The office has no email domains.');
      }),
    );
  domains
    .command('show')
    .description("show an office's email domains")
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .addOption(jsonOption())
    .action(async (flags: { tenant: string } & JsonFlag) =>
      withRuntime(async (runtime) => {
        const found = await runtime.upstreamProviders.emailDomains(CLI_PRINCIPAL, flags.tenant);
        print(flags, { domains: found }, found.length > 0 ? found.join('\n') : 'The office has no email domains.');
      }),
    );
  const upstream = sso
    .command('upstream')
    .description("an office's upstream identity provider: its people sign in there instead of with a password");
  upstream
    .command('set')
    .description('set (or replace) the upstream OpenID Provider of an office')
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .requiredOption('--issuer <url>', 'the upstream issuer (https; http only on localhost)')
    .requiredOption('--client-id <id>', 'the client Meridian is registered as there')
    .option('--client-secret-file <path>', 'a file holding its client secret')
    .option('--client-secret <secret>', 'its client secret (prefer --client-secret-file)')
    .option('--user-name-claim <claim>', 'the ID token claim holding the office userName, for the first sign-in (default email)')
    .addOption(jsonOption())
    .action(async (flags: UpstreamFlags) =>
      withRuntime(async (runtime, config) => {
        const set = await runtime.upstreamProviders.set(
          CLI_PRINCIPAL,
          {
            tenant: flags.tenant,
            issuer: flags.issuer,
            clientId: flags.clientId,
            clientSecret: await upstreamSecret(flags),
            userNameClaim: flags.userNameClaim ?? null,
          },
          cliContext(),
        );
        const community = await runtime.adminStore.findCommunity(set.communityId);
        const callback = `${config.publicUrl}/oidc/${community?.slug ?? set.communityId}/upstream/callback`;
        print(
          flags,
          { ...set, redirectUri: callback },
          `${describeUpstream(set)}\nRegister this redirect URI at the upstream provider: ${callback}`,
        );
      }),
    );
  upstream
    .command('show')
    .description("show an office's upstream OpenID Provider (never its secret)")
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .addOption(jsonOption())
    .action(async (flags: UpstreamFlags) =>
      withRuntime(async (runtime) => {
        const found = await runtime.upstreamProviders.get(CLI_PRINCIPAL, flags.tenant);
        print(flags, found, describeUpstream(found));
      }),
    );
  upstream
    .command('remove')
    .description("remove an office's upstream OpenID Provider and the links of its subjects to accounts")
    .requiredOption('--tenant <tenant>', 'tenant slug or id')
    .addOption(jsonOption())
    .action(async (flags: UpstreamFlags) =>
      withRuntime(async (runtime) => {
        await runtime.upstreamProviders.remove(CLI_PRINCIPAL, flags.tenant, cliContext());
        print(flags, { removed: true }, 'Removed; its people sign in with their passwords again.');
      }),
    );
}
