import { isMeridianError } from '@meridian/core';
import { Command } from 'commander';
import { ConfigError } from '../config/config.js';
import { describeStartupError } from '../runtime/startup-errors.js';
import { registerAccountCommands } from './account-commands.js';
import { registerAuditCommands } from './audit-commands.js';
import { CliUsageError } from './common.js';
import { registerCommunityCommands } from './community-commands.js';
import { registerConfigCommands } from './config-commands.js';
import { registerConsoleCommands } from './console-commands.js';
import { registerDirectoryCommands } from './directory-commands.js';
import { registerIssuerCommands } from './issuer-commands.js';
import { registerRpCommands, registerSsoCommands } from './rp-commands.js';
import { registerSchemaCommands } from './schema-commands.js';
import { registerSecretsCommands } from './secrets-commands.js';
import { registerSecurityCommands } from './security-commands.js';
import { registerServerCommands } from './server-commands.js';
import { registerSourceCommands } from './source-commands.js';
import { registerStreamCommands } from './stream-commands.js';
import { registerTargetCommands } from './target-commands.js';
import { registerTenantCommands } from './tenant-commands.js';
import { registerTenantTransferCommands } from './tenant-transfer-commands.js';
import { registerTokenCommands } from './token-commands.js';

/** Builds the `meridian` command tree: one group per file, in the order `--help` lists them. */
export function buildCli(): Command {
  const program = new Command('meridian').description('Meridian identity hub').showHelpAfterError();
  registerServerCommands(program);
  registerCommunityCommands(program);
  registerTenantCommands(program);
  registerTenantTransferCommands(program);
  registerAccountCommands(program);
  registerSchemaCommands(program);
  registerTokenCommands(program);
  registerConsoleCommands(program);
  registerIssuerCommands(program);
  registerRpCommands(program);
  registerSsoCommands(program);
  registerStreamCommands(program);
  registerSecurityCommands(program);
  registerTargetCommands(program);
  registerSourceCommands(program);
  registerDirectoryCommands(program);
  registerSecretsCommands(program);
  registerConfigCommands(program);
  registerAuditCommands(program);
  return program;
}

/** Runs the CLI; exits 1 with a clear message on any error. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    const json = argv.includes('--json');
    if (isMeridianError(error) || error instanceof ConfigError || error instanceof CliUsageError) {
      const code = isMeridianError(error) ? error.code : error instanceof ConfigError ? 'INVALID_CONFIG' : 'USAGE';
      process.stderr.write(json ? `${JSON.stringify({ error: { code, message: error.message } })}\n` : `error: ${error.message}\n`);
    } else {
      const message = describeStartupError(error);
      process.stderr.write(json ? `${JSON.stringify({ error: { code: 'STARTUP', message } })}\n` : `error: ${message}\n`);
    }
    process.exitCode = 1;
  }
}
