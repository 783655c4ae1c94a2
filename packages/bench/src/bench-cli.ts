import { readFile, writeFile } from 'node:fs/promises';

/** The options every bench reads for its output: `--write` puts the report into `--out` (docs/benchmarks.md). */
export interface BenchOutput {
  write: boolean;
  out: string;
}

/** What one bench's entry point knows; {@link runBenchCli} does the rest the same way for every bench. */
export interface BenchCli<O extends BenchOutput> {
  /** The prefix of its progress lines on stderr, e.g. `bench:ldap`. */
  name: string;
  usage: string;
  parse(argv: string[], env: NodeJS.ProcessEnv): O | 'help';
  /** Runs the bench (or renders a saved report) and answers the report as markdown. */
  markdown(options: O): Promise<string>;
  /** The benchmarks document with the report in the bench's own section. */
  splice(existing: string | undefined, markdown: string): string;
}

/** Progress lines of a bench on stderr, `[name] message`. */
export function benchLog(name: string): (message: string) => void {
  return (message) => process.stderr.write(`[${name}] ${message}\n`);
}

/**
 * A bench's entry point: bad options are one line and exit code 2, `--help`
 * prints the usage, the report goes to stdout and, with `--write`, into its
 * section of `--out`. A failure is one line (with its SQLSTATE when the
 * database refused) and exit code 1; the stack only when it is not a database
 * error. The servers a run starts are stopped by the bench before it throws.
 */
export async function runBenchCli<O extends BenchOutput>(cli: BenchCli<O>): Promise<void> {
  const log = benchLog(cli.name);
  try {
    let options: O | 'help';
    try {
      options = cli.parse(process.argv.slice(2), process.env);
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    if (options === 'help') {
      process.stdout.write(`${cli.usage}\n`);
      return;
    }
    const markdown = await cli.markdown(options);
    process.stdout.write(`${markdown}\n`);
    if (options.write) {
      const existing = await readFile(options.out, 'utf8').catch(() => undefined);
      await writeFile(options.out, cli.splice(existing, markdown));
      log(`wrote ${options.out}`);
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    log(`failed: ${(error as Error).message}${code ? ` (SQLSTATE ${code})` : ''}`);
    if (code === undefined) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
    process.exitCode = 1;
  }
}

/** Saves a run's report as JSON (`--json <file>`), for `--render` or a later reading. */
export async function saveJson(file: string | undefined, report: unknown, log: (message: string) => void): Promise<void> {
  if (!file) return;
  await writeFile(file, `${JSON.stringify(report, null, 1)}\n`);
  log(`wrote ${file}`);
}
