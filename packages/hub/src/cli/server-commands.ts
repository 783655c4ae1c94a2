import { type Command, Option } from 'commander';
import { loadConfig } from '../config/config.js';
import { type JsonFlag, jsonOption, print, withRuntime } from './common.js';
import { serve } from './serve.js';

/** `meridian serve` and `meridian migrate`: run the hub, or bring its database up to date. */
export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('start the hub (SCIM, GraphQL, health)')
    .addOption(new Option('--role <role>', 'processes to run').choices(['api', 'worker', 'all']).default('all'))
    .action(async (flags: { role: 'api' | 'worker' | 'all' }) => serve(loadConfig(), flags.role));

  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--create-database', 'create the database named in DATABASE_URL when the server has none (it is never created otherwise)')
    .addOption(jsonOption())
    .action(async (flags: JsonFlag & { createDatabase?: boolean }) =>
      withRuntime({ createDatabase: flags.createDatabase ?? false }, async (runtime) => {
        print(
          flags,
          { applied: runtime.applied },
          runtime.applied.length ? `Applied: ${runtime.applied.join(', ')}` : 'Database is up to date.',
        );
      }),
    );
}
