#!/usr/bin/env node
import { startTracing } from './observability/tracing.js';

// OpenTelemetry patches pg and ioredis as they load (when OTEL_EXPORTER_OTLP_ENDPOINT is set): it starts before the
// rest of the hub is imported.
await startTracing();
const { runCli } = await import('./cli/main.js');
await runCli(process.argv);
// `serve` keeps running on its own handles; every other command is done here, once what it printed is out: a pipe
// takes large output asynchronously, and exiting before it drained would cut a long `--json` answer short.
if (process.argv[2] !== 'serve' || process.exitCode) {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))));
  process.exit(process.exitCode ?? 0);
}
