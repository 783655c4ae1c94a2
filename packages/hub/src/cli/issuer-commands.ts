import type { TrustedIssuer } from '@meridian/core';
import type { Command } from 'commander';
import { openTrustedIssuers } from '../auth/trusted-issuers.js';
import { CLI_PRINCIPAL, cliContext, type JsonFlag, jsonOption, print, withRuntime } from './common.js';

interface AddFlags extends JsonFlag {
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
}

function describeIssuer(i: TrustedIssuer): string {
  const owner = i.tenantId ? `tenant ${i.tenantId}` : `community ${i.communityId}`;
  const roles = Object.entries(i.roleMap)
    .map(([value, role]) => `${value}=${role}`)
    .join(',');
  return `${i.id}\t${i.issuer}\taud ${i.audience}\t${owner}\t${i.algorithms.join(',')}\t${roles}`;
}

/** `meridian issuer …`: the OAuth 2.0 / OIDC issuers whose JWTs the hub accepts (ADR 0012). */
export function registerIssuerCommands(program: Command): void {
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
    .addOption(jsonOption())
    .action(async (flags: AddFlags) =>
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
    .addOption(jsonOption())
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
    .addOption(jsonOption())
    .action(async (id: string, flags: JsonFlag) =>
      withRuntime(async (runtime) => {
        const removed = await openTrustedIssuers(runtime).service.remove(CLI_PRINCIPAL, id, cliContext());
        print(flags, removed, `Removed ${removed.issuer} (${removed.id}); running hubs stop accepting its tokens within 30 seconds.`);
      }),
    );
}
