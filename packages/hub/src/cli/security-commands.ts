import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { updateSecurityDoc } from '../auth/security-docs.js';
import { CliUsageError } from './common.js';

/** `meridian security docs`: the role and permission tables of docs/security.md, generated from the permission matrix. */
export function registerSecurityCommands(program: Command): void {
  program
    .command('security')
    .description('security reference')
    .command('docs')
    .description('write the role and permission tables of docs/security.md from the permission matrix')
    .option('--out <file>', 'the file', 'docs/security.md')
    .option('--check', 'fail when the file differs from the generated tables')
    .action(async (flags: { out: string; check?: boolean }) => {
      const current = await readFile(flags.out, 'utf8');
      const text = updateSecurityDoc(current);
      if (flags.check) {
        if (current !== text) throw new CliUsageError(`${flags.out} is out of date: run \`pnpm meridian security docs\`.`);
        return;
      }
      await writeFile(flags.out, text);
    });
}
