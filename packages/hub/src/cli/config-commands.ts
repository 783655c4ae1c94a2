import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig, renderConfigurationReference } from '../config/config.js';
import { CliUsageError, type JsonFlag, jsonOption, print } from './common.js';

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** `meridian config …`: the configuration reference, and a check of the environment. */
export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('configuration');
  config
    .command('docs')
    .description('write the configuration reference (docs/configuration.md)')
    .option('--out <file>', 'output file', 'docs/configuration.md')
    .option('--check', 'fail when the file differs from the generated reference')
    .action(async (flags: { out: string; check?: boolean }) => {
      const text = renderConfigurationReference();
      if (flags.check) {
        const current = await readFile(flags.out, 'utf8').catch(() => '');
        if (current !== text) throw new CliUsageError(`${flags.out} is out of date: run \`pnpm meridian config docs\`.`);
        return;
      }
      await writeFile(flags.out, text);
    });
  config
    .command('check')
    .description('validate the environment and print the effective configuration (secrets hidden)')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag) => {
      const c = loadConfig();
      const shown = {
        ...c,
        databaseUrl: c.databaseUrl ? redactUrl(c.databaseUrl) : 'embedded',
        redisUrl: c.redisUrl ? redactUrl(c.redisUrl) : null,
        adminToken: c.adminToken ? '[set]' : null,
        audit: { ...c.audit, signingKey: c.audit.signingKey ? '[set]' : null },
      };
      print(flags, shown, JSON.stringify(shown, null, 2));
    });
}
