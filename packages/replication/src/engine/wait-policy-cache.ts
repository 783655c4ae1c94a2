/**
 * The tenants' wait policies as SCIM writes read them: every write asks whether
 * to wait for its deliveries, and a read of the policy was a transaction of its
 * own (four statements) after each write. A policy is kept here for at most
 * `ttlMs` (default 1 s): a change made in this process applies at once, one made
 * in another process within that second, as a revoked token is refused within
 * the token cache's second. The map holds one entry per tenant that wrote
 * meanwhile and is swept as it grows.
 */
export class WaitPolicyCache {
  private readonly entries = new Map<string, { at: number; seconds: Promise<number> }>();

  constructor(
    private readonly read: (tenantId: string) => Promise<number>,
    private readonly ttlMs = 1_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The tenant's policy in seconds, read at most once per `ttlMs`; a failed read is not kept. */
  get(tenantId: string): Promise<number> {
    const now = this.now();
    const entry = this.entries.get(tenantId);
    if (entry && now - entry.at < this.ttlMs) return entry.seconds;
    if (this.entries.size >= 10_000) this.sweep(now);
    const seconds = this.read(tenantId);
    this.entries.set(tenantId, { at: now, seconds });
    seconds.catch(() => {
      if (this.entries.get(tenantId)?.seconds === seconds) this.entries.delete(tenantId);
    });
    return seconds;
  }

  /** Forgets the tenant's policy: the next write reads it again (after this process changed it). */
  forget(tenantId: string): void {
    this.entries.delete(tenantId);
  }

  private sweep(now: number): void {
    for (const [tenantId, entry] of this.entries) if (now - entry.at >= this.ttlMs) this.entries.delete(tenantId);
  }
}
