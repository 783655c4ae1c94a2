import { randomUUID } from 'node:crypto';
import {
  AsyncResponder,
  type AudienceView,
  type DeliveryWaiting,
  decideAuthorization,
  type EventStream,
  EventStreamService,
  SSO_CLAIMS,
  type StreamAudience,
  type StreamInboxEntry,
  StreamProducer,
  type StreamSigner,
  systemClock,
} from '@meridian/core';
import { CommunityProviders, communityKeys } from '@meridian/oidc';
import type { OutboundHttp } from '@meridian/replication';
import {
  type Argon2PasswordHasher,
  type MikroORM,
  type PostgresAdminStore,
  PostgresAsyncRequestStore,
  PostgresEventStreamStore,
  type PostgresOidcStore,
  type PostgresRelyingPartyStore,
  type PostgresSsoAccounts,
  type PushItem,
  type SecretBox,
} from '@meridian/store';
import { type CryptoKey, importJWK, type JWK, SignJWT } from 'jose';

/** Options of {@link openStreams}. */
export interface StreamsOptions {
  publicUrl: string;
  orm: MikroORM;
  box: Pick<SecretBox, 'encrypt' | 'decrypt'>;
  admin: ConstructorParameters<typeof EventStreamService>[1];
  adminStore: Pick<PostgresAdminStore, 'findCommunity' | 'findToken' | 'findTenant'>;
  sso: {
    payloads: PostgresOidcStore;
    relyingParties: PostgresRelyingPartyStore;
    accounts: PostgresSsoAccounts;
    hasher: Argon2PasswordHasher;
  };
  outbound: OutboundHttp;
  /** The replication engine's view of a request's deliveries, for RFC 9967 asynchronous responses (use case 2.3.1). */
  waiting?: Pick<DeliveryWaiting, 'waitFor'>;
  /** How long acknowledged SETs are kept for audit before they are pruned (default 7 days). */
  retentionMs?: number;
  /** Push attempts before a SET is a dead letter (default 10). */
  pushAttempts?: number;
  /**
   * How often the producer and the pusher look for work when nothing woke them (default 500 ms): while they find work,
   * or cannot listen for wake-ups (ADR 0037).
   */
  intervalMs?: number;
  /**
   * While they listen for wake-ups and find nothing to do, the wait between two looks doubles from `intervalMs` up to
   * this (default 5 s): the fallback for a lost notification and for push retries coming due.
   */
  idleMs?: number;
}

const DAY_MS = 86_400_000;
const PUSH_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 3_600_000;
const PRUNE_EVERY_MS = 3_600_000;

/** The claims' SCIM paths: what a relying party was released, as SCIM attribute paths (docs/sso.md table). */
function releasedPaths(claims: readonly string[]): string[] {
  return SSO_CLAIMS.filter((c) => claims.includes(c.claim)).flatMap((c) => [...c.scimPaths]);
}

function emailsOf(doc: Record<string, unknown> | null): string[] {
  const emails = doc?.emails;
  if (!Array.isArray(emails)) return [];
  return emails.flatMap((e) =>
    e && typeof e === 'object' && typeof (e as { value?: unknown }).value === 'string'
      ? [(e as { value: string }).value.toLowerCase()]
      : [],
  );
}

/** RFC 8935 §2.2/§2.3 and RFC 9110 §10.2.3: when to try a refused push again. */
function retryDelay(response: Response | undefined, attempts: number): number {
  const header = response?.headers.get('retry-after');
  if (header) {
    const seconds = /^\d+$/.test(header) ? Number(header) * 1000 : Date.parse(header) - Date.now();
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, MAX_BACKOFF_MS);
  }
  const base = Math.min(1000 * 2 ** Math.max(0, attempts - 1), MAX_BACKOFF_MS);
  return base / 2 + Math.random() * (base / 2);
}

/**
 * The communities' Shared Signals transmitters (issue 17, docs/events.md):
 * the stream service, the producer that turns the stream inbox into signed
 * SETs, push delivery through the outbound request policy, and pruning. A
 * worker process runs the loops (`start`); tests drive them step by step.
 */
export class SsfStreams {
  readonly store: PostgresEventStreamStore;
  readonly service: EventStreamService;
  readonly producer: StreamProducer;
  /** Answers of SCIM writes sent with `Prefer: respond-async` (absent without a replication engine). */
  readonly asyncResponses: AsyncResponder | undefined;
  readonly providers: CommunityProviders;
  readonly #keys = new Map<string, Promise<{ issuer: string; key: CryptoKey; kid: string }>>();
  readonly #fetch: typeof globalThis.fetch;
  readonly #retentionMs: number;
  readonly #pushAttempts: number;
  readonly #intervalMs: number;
  readonly #idleMs: number;
  readonly #waiters = new Set<() => void>();
  /** The `LISTEN` connection of the loop (ADR 0037), while it runs. */
  #wakeups: { listening: boolean; close(): Promise<void> } | undefined;
  #listening: Promise<void> | undefined;
  /** Whether the last step of each kind found something to do (SETs claimed, asynchronous requests looked at). */
  #pushesClaimed = 0;
  #requestsDue = 0;
  /** Set by a wake-up that arrives while a step runs: the loop goes on at once. */
  #woken = false;
  #idleWait = 0;
  /** Per producer step: whether each receiving token may still read the directory (revoked, expired, relying_party: no). */
  #tokenReach = new Map<string, Promise<boolean>>();
  #timer: NodeJS.Timeout | undefined;
  #loop: (() => Promise<void>) | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #lastPrune = 0;

  constructor(private readonly options: StreamsOptions) {
    this.store = new PostgresEventStreamStore(options.orm, systemClock, options.box);
    // The issuer's own subjects (pairwise ones included) come from the community's provider, as in ID tokens.
    this.providers = new CommunityProviders({
      publicUrl: options.publicUrl,
      storage: options.sso.payloads,
      clients: options.sso.relyingParties,
      accounts: options.sso.accounts,
      passwords: options.sso.hasher,
      findCommunity: (slug) => options.adminStore.findCommunity(slug),
    });
    const signer: StreamSigner = { sign: (stream, claims) => this.sign(stream, claims) };
    this.service = new EventStreamService(this.store, options.admin, signer, randomUUID, {
      checkEndpoint: (url) => options.outbound.checkUrl(url, 'delivery.endpoint_url', { httpsOnly: true }),
      onAppend: () => this.#wake(),
      receiverExists: async (communityId, receiver) => {
        if (receiver.kind === 'client') return (await options.sso.relyingParties.findClient(communityId, receiver.clientId)) !== undefined;
        if (!/^[0-9a-f-]{36}$/i.test(receiver.tokenId)) return false;
        const token = await options.adminStore.findToken(receiver.tokenId);
        return token !== undefined && token.communityId === communityId && token.tenantId === null && token.revokedAt === null;
      },
      tenantCommunity: async (tenantId, community) => {
        const [tenant, found] = await Promise.all([options.adminStore.findTenant(tenantId), options.adminStore.findCommunity(community)]);
        return tenant && found && tenant.communityId === found.id ? found.id : undefined;
      },
      tokenReadsDirectory: (communityId, tokenId) => this.#tokenReadsDirectory(communityId, tokenId),
    });
    const audience: StreamAudience = { view: (stream, entry) => this.view(stream, entry) };
    this.producer = new StreamProducer(this.store, audience, signer, randomUUID);
    const requests = new PostgresAsyncRequestStore(options.orm, `${options.publicUrl.replace(/\/+$/, '')}/scim/v2`);
    // How many requests the responder's last step looked at: while some wait for their deliveries, the loop keeps looking.
    const counted: typeof requests = Object.assign(Object.create(requests) as typeof requests, {
      due: async (limit: number, recoverBefore: Date) => {
        const due = await requests.due(limit, recoverBefore);
        this.#requestsDue = due.length;
        return due;
      },
    });
    this.asyncResponses = options.waiting ? new AsyncResponder(counted, this.store, options.waiting, signer, randomUUID) : undefined;
    this.#fetch = options.outbound.fetchFor({ httpsOnly: true });
    this.#retentionMs = options.retentionMs ?? 7 * DAY_MS;
    this.#pushAttempts = options.pushAttempts ?? 10;
    this.#intervalMs = options.intervalMs ?? 500;
    this.#idleMs = Math.max(this.#intervalMs, options.idleMs ?? 5_000);
  }

  /** The community's issuer (`{public URL}/oidc/{slug}`) and its signing key (the one its JWKS publishes). */
  async issuerOf(communityId: string): Promise<{ issuer: string; key: CryptoKey; kid: string }> {
    let found = this.#keys.get(communityId);
    if (!found) {
      found = (async () => {
        const community = await this.options.adminStore.findCommunity(communityId);
        if (!community) throw new TypeError(`No community ${communityId}.`);
        const keys = await communityKeys(this.options.sso.payloads, community.id);
        const key = (await importJWK(keys.signing as JWK, 'RS256')) as CryptoKey;
        return { issuer: `${this.options.publicUrl.replace(/\/+$/, '')}/oidc/${community.slug}`, key, kid: String(keys.signing.kid) };
      })();
      this.#keys.set(communityId, found);
      found.catch(() => this.#keys.delete(communityId));
    }
    return found;
  }

  /** RFC 8417 §2.2 with SSF 1.0 §4: `typ: secevent+jwt`, RS256 with the issuer's key, `iss`, `aud`, `iat`, `jti`, `txn`, `sub_id`, `events`. */
  async sign(
    stream: EventStream,
    claims: { jti: string; txn: string; sub_id: Record<string, unknown>; events: Record<string, unknown> },
  ): Promise<string> {
    const { issuer, key, kid } = await this.issuerOf(stream.communityId);
    return new SignJWT({ txn: claims.txn, sub_id: claims.sub_id, events: claims.events })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'secevent+jwt' })
      .setIssuer(issuer)
      .setAudience(audienceOf(stream, issuer))
      .setIssuedAt()
      .setJti(claims.jti)
      .sign(key);
  }

  /**
   * Whether a community token is live and may read the community's directory
   * (`directory.read`): a token stream carries every User and Group, so a
   * `relying_party` token (issue 15), a revoked or an expired one gets nothing.
   */
  async #tokenReadsDirectory(communityId: string, tokenId: string): Promise<boolean> {
    if (!/^[0-9a-f-]{36}$/i.test(tokenId)) return false;
    const token = await this.options.adminStore.findToken(tokenId);
    if (!token || token.communityId !== communityId || token.tenantId !== null || token.revokedAt !== null) return false;
    if (token.expiresAt !== null && token.expiresAt.getTime() <= Date.now()) return false;
    const principal = { kind: 'community' as const, tokenId, communityId, scopes: token.scopes };
    return decideAuthorization(principal, 'directory.read', { communityId }).allowed;
  }

  /** What a receiver may see of a change: everything for a token that reads the directory; the release ledger for a relying party. */
  async view(stream: EventStream, entry: StreamInboxEntry): Promise<AudienceView> {
    if (entry.kind === 'Grant') return this.#grantView(stream, entry);
    const doc = entry.after ?? entry.before;
    const plural = entry.kind === 'User' ? 'Users' : 'Groups';
    if (stream.receiver.kind === 'token') {
      const { tokenId } = stream.receiver;
      let reach = this.#tokenReach.get(tokenId);
      if (!reach) {
        reach = this.#tokenReadsDirectory(stream.communityId, tokenId);
        this.#tokenReach.set(tokenId, reach);
      }
      if (!(await reach)) return { visible: false, released: [], subject: {}, keys: [] };
      const externalId = typeof doc?.externalId === 'string' ? { externalId: doc.externalId } : {};
      return {
        visible: true,
        released: null,
        subject: { format: 'scim', uri: `/${plural}/${entry.resourceId}`, id: entry.resourceId, ...externalId },
        keys: [`scim:/${plural}/${entry.resourceId}`, `opaque:${entry.resourceId}`, ...emailsOf(doc).map((e) => `email:${e}`)],
      };
    }
    const hidden: AudienceView = { visible: false, released: [], subject: {}, keys: [] };
    if (entry.kind !== 'User') return hidden;
    const release = await this.store.releaseOf(entry.communityId, stream.receiver.clientId, entry.tenantId, entry.resourceId);
    if (!release) return hidden;
    const community = await this.options.adminStore.findCommunity(entry.communityId);
    const provider = community ? await this.providers.get(community.slug) : undefined;
    if (!provider) return hidden;
    const sub = await provider.subjectFor(stream.receiver.clientId, release.personId);
    const released = releasedPaths(release.claims);
    const emails = release.claims.includes('email') ? emailsOf(doc).map((e) => `email:${e}`) : [];
    return {
      visible: true,
      released,
      subject: { format: 'iss_sub', iss: provider.issuer, sub },
      keys: [`opaque:${sub}`, ...emails],
    };
  }

  /**
   * A grant revoked, for the stream of the relying party it was given to: the person by the `sub` that relying party
   * knows (pairwise when registered so), as in its ID tokens and its other SETs. The release ledger is not asked: the
   * grant itself is what the relying party held, whether or not a release is still unexpired.
   */
  async #grantView(stream: EventStream, entry: StreamInboxEntry): Promise<AudienceView> {
    const hidden: AudienceView = { visible: false, released: [], subject: {}, keys: [] };
    if (stream.receiver.kind !== 'client' || !entry.grant || entry.grant.clientId !== stream.receiver.clientId) return hidden;
    const community = await this.options.adminStore.findCommunity(entry.communityId);
    const provider = community ? await this.providers.get(community.slug) : undefined;
    if (!provider) return hidden;
    const sub = await provider.subjectFor(stream.receiver.clientId, entry.grant.personId);
    return { visible: true, released: [], subject: { format: 'iss_sub', iss: provider.issuer, sub }, keys: [`opaque:${sub}`] };
  }

  /** One producer step (see StreamProducer); wakes long polls when it made SETs. */
  async produceOnce(limit = 200): Promise<number> {
    // A token revoked since the last step stops receiving from this step on.
    this.#tokenReach = new Map();
    const n = await this.producer.runOnce(limit);
    if (n > 0) this.#wake();
    return n;
  }

  /** One step of the asynchronous responses (see AsyncResponder); wakes long polls when it made SETs. */
  async asyncOnce(): Promise<number> {
    const n = (await this.asyncResponses?.runOnce()) ?? 0;
    if (n > 0) this.#wake();
    return n;
  }

  /** Runs producer steps until the inbox is empty. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.produceOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  /**
   * One push step (RFC 8935): leases the due SETs of push streams, posts them
   * in order per stream through the outbound policy; 202 (or any 2xx) is
   * acknowledged, 400 with an RFC 8935 §2.3 error is failed, anything else is
   * retried with backoff (or `Retry-After`) until the last attempt makes it a
   * dead letter. Answers how many SETs it settled.
   */
  async pushOnce(): Promise<number> {
    const items = await this.store.claimPushes(10, 20);
    this.#pushesClaimed = items.length;
    const byStream = new Map<string, PushItem[]>();
    for (const item of items) byStream.set(item.streamId, [...(byStream.get(item.streamId) ?? []), item]);
    const settled = await Promise.all([...byStream.values()].map((list) => this.#pushInOrder(list)));
    return settled.reduce((a, b) => a + b, 0);
  }

  async #pushInOrder(items: PushItem[]): Promise<number> {
    let settled = 0;
    for (const [index, item] of items.entries()) {
      let response: Response | undefined;
      let error: string;
      try {
        response = await this.#fetch(item.endpointUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/secevent+jwt',
            accept: 'application/json',
            ...(item.authorization ? { authorization: item.authorization } : {}),
          },
          body: item.token,
          redirect: 'manual',
          signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
        });
        if (response.status >= 200 && response.status < 300) {
          await response.body?.cancel();
          await this.store.settlePush(item.seq, { state: 'acknowledged' });
          settled++;
          continue;
        }
        const text = (await response.text().catch(() => '')).slice(0, 1000);
        if (response.status === 400) {
          // RFC 8935 §2.3: the receiver refused this SET (invalid_request, invalid_key, …): sending it again changes nothing.
          await this.store.settlePush(item.seq, { state: 'failed' }, `400 ${text}`);
          settled++;
          continue;
        }
        error = `${response.status} ${text}`;
      } catch (cause) {
        error = cause instanceof Error ? cause.message : String(cause);
      }
      if (item.attempts >= this.#pushAttempts) {
        await this.store.settlePush(item.seq, { state: 'dead' }, error);
        settled++;
      } else {
        await this.store.settlePush(item.seq, { retryAt: new Date(Date.now() + retryDelay(response, item.attempts)) }, error);
      }
      // Order per stream: what comes after waits for this one; release its lease so it is due with the head.
      for (const rest of items.slice(index + 1)) await this.store.settlePush(rest.seq, { retryAt: new Date() });
      return settled;
    }
    return settled;
  }

  /** Prunes acknowledged SETs older than the retention period. */
  async pruneOnce(): Promise<number> {
    return this.store.prune(this.#retentionMs);
  }

  /** Resolves when new SETs may be there (the producer made some) or after `ms`. */
  waitForSets(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * Starts the producer, push and pruning loop (worker processes). It listens on the streams' channel (ADR 0037): a
   * change for a stream, new SETs or an asynchronous request wake it at once. Otherwise it looks every `intervalMs`
   * while it finds work (or cannot listen), and backs off to `idleMs` while it finds none: an idle worker costs a few
   * statements every few seconds, not a dozen every second.
   */
  start(onError: (error: unknown) => void = () => {}): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#idleWait = this.#intervalMs;
    this.#listening ??= this.store
      .listen(
        () => this.#kick(),
        (error) => onError(error),
      )
      .then(
        async (wakeups) => {
          if (this.#stopped) await wakeups.close();
          else this.#wakeups = wakeups;
        },
        (error: unknown) => onError(error),
      );
    const loop = async () => {
      if (this.#stopped) return;
      this.#timer = undefined;
      this.#woken = false;
      let worked = false;
      this.#running = (async () => {
        try {
          while ((await this.produceOnce()) > 0 && !this.#stopped) worked = true;
          await this.asyncOnce();
          if (this.#requestsDue > 0) worked = true;
          while ((await this.pushOnce()) > 0 && !this.#stopped) worked = true;
          if (this.#pushesClaimed > 0) worked = true;
          if (Date.now() - this.#lastPrune >= PRUNE_EVERY_MS) {
            this.#lastPrune = Date.now();
            await this.pruneOnce();
          }
        } catch (error) {
          worked = true;
          onError(error);
        }
      })();
      await this.#running;
      if (this.#stopped) return;
      if (this.#woken) {
        this.#idleWait = this.#intervalMs;
        this.#timer = setTimeout(() => void loop(), 0);
        return;
      }
      const listening = this.#wakeups?.listening === true;
      this.#idleWait = worked || !listening ? this.#intervalMs : Math.min(this.#idleMs, this.#idleWait * 2);
      this.#timer = setTimeout(() => void loop(), worked || !listening ? this.#intervalMs : this.#idleWait);
    };
    this.#loop = loop;
    void loop();
  }

  /** A wake-up: the loop looks now (or right after the step under way). */
  #kick(): void {
    if (this.#stopped) return;
    this.#woken = true;
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const loop = this.#loop;
    if (loop) void loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#listening;
    this.#listening = undefined;
    await this.#wakeups?.close();
    this.#wakeups = undefined;
    await this.#running;
    this.providers.close();
    this.#wake();
  }
}

/** SSF 1.0 §8.1.1: the receiver's audience: a relying party's client id, or the stream's own URN for a community token. */
export function audienceOf(stream: EventStream, _issuer: string): string {
  return stream.receiver.kind === 'client' ? stream.receiver.clientId : `urn:meridian:stream:${stream.id}`;
}

/** Builds the transmitters of a runtime. */
export function openStreams(options: StreamsOptions): SsfStreams {
  return new SsfStreams(options);
}
