// Statements per request counted from PostgreSQL's own log. For the duration of a
// short capture the bench database logs every statement its new sessions execute
// (`ALTER DATABASE … SET log_statement = 'all'`, as DATABASE_URL's superuser; reset
// afterwards): one `statement:` line per simple query and one `execute …:` line per
// Execute of the extended protocol, so a prepared statement counts at every
// execution. Statements inside a function a statement calls are not logged: the
// count is of what the client sent, its round trips' statements.
import { randomBytes } from 'node:crypto';
import { open, readlink, stat } from 'node:fs/promises';
import pg from 'pg';

/** Where the server's log is, and how to read a range of it. */
interface LogFile {
  describe: string;
  size(): Promise<number>;
  read(from: number, to: number): Promise<string>;
}

/** A capture in progress: `mark` before a request, `since` after it. */
interface StatementLog {
  /** Where the statements were read from, for the report. */
  source: string;
  mark(): Promise<number>;
  /** The statements the bench database's sessions logged since `mark`, in order. */
  since(mark: number): Promise<string[]>;
  /** Turns the logging off again. */
  close(): Promise<void>;
}

/** The file the collector writes (read through the server: pg_read_file), or undefined. */
async function collectorFile(client: pg.Client): Promise<LogFile | undefined> {
  const { rows } = await client.query<{ file: string | null }>(`select pg_current_logfile('stderr') as file`);
  const file = rows[0]?.file;
  if (!file) return undefined;
  return {
    describe: `the server's log file (${file}, logging_collector), read with pg_read_file`,
    size: async () => Number((await client.query<{ size: string }>('select (pg_stat_file($1)).size as size', [file])).rows[0]?.size ?? 0),
    read: async (from, to) =>
      to <= from
        ? ''
        : ((await client.query<{ text: string }>('select pg_read_file($1, $2, $3) as text', [file, from, to - from])).rows[0]?.text ?? ''),
  };
}

/** The postmaster's standard error when it is a file this process can read (same machine, no collector). */
async function stderrFile(client: pg.Client): Promise<LogFile | undefined> {
  const { rows } = await client.query<{ pid: string }>(`select split_part(pg_read_file('postmaster.pid'), E'\\n', 1) as pid`);
  const pid = rows[0]?.pid;
  if (!pid || !/^\d+$/.test(pid)) return undefined;
  let file: string;
  try {
    file = await readlink(`/proc/${pid}/fd/2`);
    if (!(await stat(file)).isFile()) return undefined;
    await (await open(file, 'r')).close();
  } catch {
    return undefined;
  }
  return {
    describe: `the server's standard error (${file}), read directly`,
    size: async () => (await stat(file)).size,
    read: async (from, to) => {
      if (to <= from) return '';
      const handle = await open(file, 'r');
      try {
        const buffer = Buffer.alloc(to - from);
        const { bytesRead } = await handle.read(buffer, 0, to - from, from);
        return buffer.subarray(0, bytesRead).toString('utf8');
      } finally {
        await handle.close();
      }
    },
  };
}

/** `statement:` and `execute <name>:` entries of `database` (continuation lines start with a tab). */
function parseStatements(text: string, database: string): string[] {
  const found: string[] = [];
  let current: string[] | undefined;
  const ours = new RegExp(`(^|[^\\w$])${database}([^\\w$]|$)`);
  const entry = /^(.*?)(?:LOG|ERROR|WARNING|NOTICE|DETAIL|HINT|CONTEXT|STATEMENT|FATAL|PANIC|DEBUG\d?|INFO):\s+(.*)$/;
  for (const line of text.split('\n')) {
    if (line.startsWith('\t')) {
      current?.push(line.trim());
      continue;
    }
    if (current) found.push(current.join(' '));
    current = undefined;
    const match = entry.exec(line);
    if (!match || !line.includes('LOG:  ')) continue;
    const [, prefix = '', message = ''] = match;
    if (!ours.test(prefix)) continue;
    const statement = /^(?:statement|execute [^:]*): (.*)$/.exec(message);
    if (statement) current = [statement[1] ?? ''];
  }
  if (current) found.push(current.join(' '));
  return found.map((s) => s.replace(/\s+/g, ' ').trim());
}

/**
 * Turns statement logging on for new sessions of `database` and finds the log, or
 * returns undefined (logging turned off again) when the server's log is no file
 * this process can read, or the user is no superuser: the caller falls back to
 * the recording proxy.
 */
export async function openStatementLog(databaseUrl: string, database: string): Promise<StatementLog | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const quoted = client.escapeIdentifier(database);
  const reset = async () => {
    await client.query(`alter database ${quoted} reset log_statement`);
    await client.query(`alter database ${quoted} reset log_parameter_max_length`);
  };
  try {
    const { rows } = await client.query<{ superuser: boolean; prefix: string }>(
      `select rolsuper as superuser, current_setting('log_line_prefix') as prefix from pg_roles where rolname = current_user`,
    );
    if (!rows[0]?.superuser || !rows[0].prefix.includes('%d')) {
      await client.end();
      return undefined;
    }
    const file = (await collectorFile(client)) ?? (await stderrFile(client));
    if (!file) {
      await client.end();
      return undefined;
    }
    await client.query(`alter database ${quoted} set log_statement = 'all'`);
    // Parameter values (a token's hash among them) stay out of the server's log.
    await client.query(`alter database ${quoted} set log_parameter_max_length = 0`);
    // Proof that this is the log: a new session's marker statement must show up in it.
    const marker = `bench-log-marker-${randomBytes(6).toString('hex')}`;
    const before = await file.size();
    const probe = new pg.Client({ connectionString: databaseUrl });
    await probe.connect();
    await probe.query(`select '${marker}'`);
    await probe.end();
    let seen = false;
    for (let attempt = 0; attempt < 20 && !seen; attempt++) {
      seen = parseStatements(await file.read(before, await file.size()), database).some((s) => s.includes(marker));
      if (!seen) await new Promise((r) => setTimeout(r, 50));
    }
    if (!seen) {
      await reset();
      await client.end();
      return undefined;
    }
    return {
      source: file.describe,
      mark: () => file.size(),
      since: async (mark) => parseStatements(await file.read(mark, await file.size()), database),
      close: async () => {
        try {
          await reset();
        } finally {
          await client.end();
        }
      },
    };
  } catch (error) {
    await reset().catch(() => {});
    await client.end().catch(() => {});
    throw error;
  }
}
