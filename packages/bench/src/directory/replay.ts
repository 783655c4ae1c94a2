// The baseline replays what the hub sent for one GraphQL request. SqlCapture records
// statements in the order they crossed the proxy, from every connection at once:
// the DataLoaders run two transactions side by side (accounts and managers, then
// groups and the tenants), so their statements interleave. This module puts each
// statement back into its transaction and the transactions into waves that ran at
// the same time, so the replay has the hub's transactions and concurrency.

/** One transaction: `begin`, its scope statement, its statements, `commit`. */
interface ReplayTransaction {
  /** `select set_config(...)`: the scope (community or platform) the transaction opens with. */
  scope: string;
  statements: string[];
}

/** Transactions that ran at the same time (each on its own connection), then the next wave. */
export type ReplayPlan = ReplayTransaction[][];

interface Open extends ReplayTransaction {
  scopeKind: 'community' | 'platform' | 'tenant' | undefined;
  begun: number;
  ended: number;
}

/** Which scope a statement needs under row-level security: the directory's tables are community rows. */
function scopeOf(sql: string): 'community' | 'platform' {
  return /\b(from|join|into|update)\s+(person|directory_\w+)\b/i.test(sql) ? 'community' : 'platform';
}

function scopeKindOf(setConfig: string): Open['scopeKind'] {
  if (setConfig.includes('meridian.community_id')) return 'community';
  if (setConfig.includes('meridian.tenant_id')) return 'tenant';
  return 'platform';
}

/**
 * Rebuilds the transactions of a captured statement list. A `set_config`
 * belongs to the oldest open transaction without one; a statement to the
 * oldest open transaction of its scope that has none yet, else the newest of
 * its scope; a `commit` ends the oldest open transaction that ran a statement.
 * Throws when the list does not fit (a statement outside any transaction).
 */
export function replayPlan(statements: readonly string[]): ReplayPlan {
  const open: Open[] = [];
  const done: Open[] = [];
  statements.forEach((sql, index) => {
    const text = sql.trim().toLowerCase();
    if (text === 'begin') {
      open.push({ scope: '', scopeKind: undefined, statements: [], begun: index, ended: -1 });
    } else if (text === 'commit' || text === 'rollback') {
      const at = Math.max(
        0,
        open.findIndex((t) => t.statements.length > 0),
      );
      const [closed] = open.splice(at, 1);
      if (!closed) throw new TypeError(`'${sql}' outside a transaction at statement ${index + 1}`);
      closed.ended = index;
      done.push(closed);
    } else if (/^select set_config\(/.test(text)) {
      const t = open.find((o) => o.scope === '');
      if (!t) throw new TypeError(`set_config outside a transaction at statement ${index + 1}`);
      t.scope = sql;
      t.scopeKind = scopeKindOf(sql);
    } else {
      const kind = scopeOf(sql);
      const candidates = open.filter((o) => o.scopeKind === kind);
      const t = candidates.find((o) => o.statements.length === 0) ?? candidates.at(-1);
      if (!t) throw new TypeError(`statement outside a ${kind} transaction at statement ${index + 1}: ${sql.slice(0, 120)}`);
      t.statements.push(sql);
    }
  });
  if (open.length > 0) throw new TypeError(`${open.length} transaction(s) never ended`);
  done.sort((a, b) => a.begun - b.begun);
  const waves: ReplayPlan = [];
  let wave: Open[] = [];
  for (const t of done) {
    // A transaction that began before every transaction of the wave ended ran alongside them.
    if (wave.length > 0 && wave.some((w) => w.ended < t.begun)) {
      waves.push(wave.map(({ scope, statements }) => ({ scope, statements })));
      wave = [];
    }
    wave.push(t);
  }
  if (wave.length > 0) waves.push(wave.map(({ scope, statements }) => ({ scope, statements })));
  return waves;
}

/** Statements the plan sends in all, `begin` and `commit` included. */
export function planStatements(plan: ReplayPlan): number {
  return plan.flat().reduce((n, t) => n + t.statements.length + 3, 0);
}
