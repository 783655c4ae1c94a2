import type { Command } from 'commander';
import {
  CLI_PRINCIPAL,
  cliContext,
  cliTenant,
  type JsonFlag,
  jsonOption,
  print,
  readJsonFile,
  requireTenant,
  withRuntime,
} from './common.js';

/** `meridian schema …`: a tenant's custom SCIM schema extensions (ADR 0009). */
export function registerSchemaCommands(program: Command): void {
  const schema = program.command('schema').description("a tenant's custom SCIM schema extensions");
  requireTenant(schema.command('create').description('declare a schema extension from a JSON file (RFC 7643 §7 attribute definitions)'))
    .requiredOption('--file <file>', "JSON: { id: 'urn:…', name, resourceType: 'User'|'Group', attributes: [...] }")
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant: string; file: string }) =>
      withRuntime(async ({ admin, settings }) => {
        const found = await cliTenant(admin, flags.tenant);
        const definition = await readJsonFile(flags.file);
        const created = await settings.declareExtension(CLI_PRINCIPAL, found, definition, cliContext());
        print(flags, created, `Declared ${created.id} on ${created.resourceType} in ${found.slug}.`);
      }),
    );
  requireTenant(schema.command('list').description("list a tenant's schema extensions"))
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant: string }) =>
      withRuntime(async ({ admin, settings }) => {
        const list = await settings.extensionsFor(CLI_PRINCIPAL, await cliTenant(admin, flags.tenant));
        print(flags, list, list.map((e) => `${e.id}\t${e.resourceType}\t${e.attributes.length} attributes`).join('\n') || 'No extensions.');
      }),
    );
  requireTenant(schema.command('delete').description('remove an extension no resource carries any more'))
    .requiredOption('--id <urn>', 'the extension URN')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { tenant: string; id: string }) =>
      withRuntime(async ({ admin, settings }) => {
        const found = await cliTenant(admin, flags.tenant);
        await settings.removeExtension(CLI_PRINCIPAL, found, flags.id, cliContext());
        print(flags, { deleted: flags.id }, `Removed ${flags.id} from ${found.slug}.`);
      }),
    );
}
