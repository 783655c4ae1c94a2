import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { CommunityTheme, CommunityThemeChanges } from '@meridian/core';
import type { Command } from 'commander';
import { CLI_PRINCIPAL, CliUsageError, cliContext, type JsonFlag, jsonOption, print, withRuntime } from './common.js';

interface ThemeFlags extends JsonFlag {
  community: string;
  name?: string;
  logoUrl?: string;
  logoFile?: string;
  primaryColour?: string;
  backgroundColour?: string;
  supportUrl?: string;
  clear?: boolean;
}

/** Image types a `--logo-file` may have, by extension: the ones core accepts in a data: URI. */
const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
};

/** A logo file as a data: URI (core checks its size), so that the pages load no image from another host. */
async function logoDataUri(file: string): Promise<string> {
  const type = IMAGE_TYPES[extname(file).toLowerCase()];
  if (!type) throw new CliUsageError(`--logo-file must be a ${Object.keys(IMAGE_TYPES).join(', ')} file.`);
  return `data:${type};base64,${(await readFile(file)).toString('base64')}`;
}

async function themeChanges(flags: ThemeFlags): Promise<CommunityThemeChanges> {
  if (flags.logoUrl !== undefined && flags.logoFile !== undefined) throw new CliUsageError('Give --logo-url or --logo-file, not both.');
  const logoUrl = flags.logoFile !== undefined ? await logoDataUri(flags.logoFile) : flags.logoUrl;
  const changes: CommunityThemeChanges = {
    displayName: flags.name,
    logoUrl,
    primaryColour: flags.primaryColour,
    backgroundColour: flags.backgroundColour,
    supportUrl: flags.supportUrl,
  };
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
}

function describeTheme(theme: CommunityTheme): string {
  const logo = theme.logoUrl?.startsWith('data:')
    ? `${theme.logoUrl.slice(0, theme.logoUrl.indexOf(','))} (${theme.logoUrl.length} characters)`
    : theme.logoUrl;
  return [
    `name: ${theme.displayName ?? "(the community's name)"}`,
    `logo: ${logo ?? '(none)'}`,
    `primary colour: ${theme.primaryColour ?? '(default)'}`,
    `background colour: ${theme.backgroundColour ?? '(default)'}`,
    `support link: ${theme.supportUrl ?? '(none)'}`,
  ].join('\n');
}

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
  community
    .command('theme')
    .description(
      "show or change how the community's sign-in, consent, account and error pages look (docs/sso.md); options not given keep their value, an empty value removes one",
    )
    .requiredOption('--community <community>', 'community slug or id')
    .option('--name <name>', "the pages' heading and the logo's alt text (default: the community's name)")
    .option('--logo-url <url>', 'an https URL of one image file, or a data:image/…;base64 URI')
    .option('--logo-file <file>', 'a .png, .jpg, .gif, .webp or .svg file, stored as a data: URI (at most 32 KiB as such)')
    .option('--primary-colour <hex>', 'headings, buttons and focus rings, e.g. #1f4e8c')
    .option('--background-colour <hex>', 'the page behind the card, e.g. #f4f5f7')
    .option('--support-url <url>', "the footer's help link: an https URL or a mailto: address")
    .option('--clear', "remove the theme first (alone: back to the community's name and Meridian's colours)")
    .addOption(jsonOption())
    .action(async (flags: ThemeFlags) => {
      const changes = await themeChanges(flags);
      await withRuntime(async ({ communityThemes }) => {
        const theme =
          Object.keys(changes).length === 0 && !flags.clear
            ? await communityThemes.get(CLI_PRINCIPAL, flags.community)
            : await communityThemes.set(CLI_PRINCIPAL, flags.community, changes, cliContext(), flags.clear === true);
        print(flags, theme, describeTheme(theme));
      });
    });
}
