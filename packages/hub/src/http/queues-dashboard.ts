import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Principal } from '@meridian/core';
import { forkForPlatform } from '@meridian/store';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Runtime } from '../runtime/runtime.js';

/** Where the dashboard is mounted. */
const QUEUES_DASHBOARD_PATH = '/admin/queues';

/** Resolves an `Authorization` header to a principal (the hub's authenticator). */
type Authenticate = (authorization: string | undefined, log?: FastifyRequest['log']) => Promise<Principal | undefined>;

/** How often, at most, the dashboard re-reads the targets (new ones appear, deleted ones go). */
const REFRESH_MS = 5_000;
const BEARER = /^Bearer +(\S+) *$/i;
const BASIC = /^Basic +([A-Za-z0-9+/]+=*) *$/i;

/**
 * The secret of `Authorization: Bearer <token>`, or the password of
 * `Authorization: Basic` (RFC 7617; the user name is ignored), which a
 * browser sends by itself on every request of the page once asked.
 */
function credentialOf(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const bearer = BEARER.exec(authorization)?.[1];
  if (bearer !== undefined) return bearer;
  const basic = BASIC.exec(authorization)?.[1];
  if (basic === undefined) return undefined;
  const decoded = Buffer.from(basic, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1) || undefined;
}

/**
 * A request a browser sent on behalf of another site: it carries credentials
 * the browser keeps (Basic), so a state-changing request must come from the
 * dashboard's own origin (`Sec-Fetch-Site`, else `Origin`).
 */
function crossSite(request: FastifyRequest): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return false;
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin';
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return false;
  return !URL.canParse(origin) || new URL(origin).host !== request.headers.host;
}

/** Every target with its tenant's slug, for the queues' display names. */
async function listTargets(runtime: Runtime): Promise<{ id: string; name: string; tenant: string }[]> {
  return forkForPlatform(runtime.orm).transactional((em) =>
    em.execute<{ id: string; name: string; tenant: string }[]>(
      'select t.id, t.name, n.slug as tenant from replication_target t join tenant n on n.id = t.tenant_id order by n.slug, t.name',
    ),
  );
}

/**
 * The replication queues in bull-board at `/admin/queues`, for the platform
 * admin only, when BullMQ runs on Redis (the dashboard reads Redis itself).
 * Every request needs the platform admin token, as a bearer token or as the
 * password of HTTP Basic authentication (a browser asks for it once and sends
 * it with each request of the page; no cookie is set). The queues are
 * read-only: jobs are retried, replayed and reconciled through the audited
 * operations (`meridian target replay|reconcile|pause`), never here.
 * Answers false (and mounts nothing) on the PostgreSQL backend.
 */
export async function registerQueuesDashboard(app: FastifyInstance, runtime: Runtime, authenticate: Authenticate): Promise<boolean> {
  const queues = runtime.replication.ctx.queues;
  if (queues.backend !== 'redis') return false;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUES_DASHBOARD_PATH);
  const board = createBullBoard({
    queues: [],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Meridian queues' } },
  });
  let refreshed = 0;
  let refreshing: Promise<void> | undefined;
  const refresh = async () => {
    const targets = await listTargets(runtime);
    board.replaceQueues(
      targets.map(
        (t) => new BullMQAdapter(queues.queue(t.id), { readOnlyMode: true, allowRetries: false, displayName: `${t.tenant} / ${t.name}` }),
      ),
    );
    refreshed = Date.now();
  };

  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const credential = credentialOf(request.headers.authorization);
      const principal = credential === undefined ? undefined : await authenticate(`Bearer ${credential}`, request.log);
      if (principal === undefined) {
        return reply
          .code(401)
          .header('www-authenticate', 'Basic realm="Meridian queues (platform admin token as password)", charset="UTF-8"')
          .send({ error: 'The platform admin token is required (bearer, or as the Basic password).' });
      }
      if (principal.kind !== 'platform' || !principal.scopes.includes('admin')) {
        return reply.code(403).send({ error: 'Only the platform admin may see the queues.' });
      }
      if (crossSite(request)) return reply.code(403).send({ error: 'Cross-site requests are refused.' });
      // The page and its API must not be framed, cached or read by another origin.
      reply.header('x-frame-options', 'DENY').header('cache-control', 'no-store');
      if (Date.now() - refreshed > REFRESH_MS) {
        refreshing ??= refresh().finally(() => {
          refreshing = undefined;
        });
        await refreshing;
      }
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUES_DASHBOARD_PATH });
  });
  return true;
}
