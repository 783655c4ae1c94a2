import type { Command } from 'commander';
import { CLI_PRINCIPAL, cliContext, type JsonFlag, jsonOption, print, withRuntime } from './common.js';

/** `meridian community …`: create and list communities of interest. */
export function registerCommunityCommands(program: Command): void {
  const community = program.command('community').description('communities of interest');
  community
    .command('create')
    .description('create a community of interest; prints its id')
    .requiredOption('--slug <slug>', 'short unique name, e.g. yourcoi')
    .requiredOption('--name <name>', 'display name')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { slug: string; name: string }) =>
      withRuntime(async ({ admin }) => {
        const created = await admin.createCommunity(CLI_PRINCIPAL, { slug: flags.slug, name: flags.name }, cliContext());
        print(flags, created, `Created community ${created.slug} (${created.id}).`);
      }),
    );
  community
    .command('list')
    .description('list the communities: slug, name and id')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag) =>
      withRuntime(async ({ admin }) => {
        const page = await admin.listCommunities(CLI_PRINCIPAL, { first: 500 });
        print(flags, page.items, page.items.map((c) => `${c.slug}\t${c.name}\t${c.id}`).join('\n') || 'No communities.');
      }),
    );
}
