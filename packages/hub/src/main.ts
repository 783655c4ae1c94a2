#!/usr/bin/env node
import { runCli } from './cli/main.js';

await runCli(process.argv);
// `serve` keeps running on its own handles; every other command is done here.
if (process.argv[2] !== 'serve' || process.exitCode) process.exit(process.exitCode ?? 0);
