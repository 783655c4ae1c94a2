import { statfs } from 'node:fs/promises';
import { scimErrorBody } from '@meridian/scim';
import type { EmbeddedDatabase } from '@meridian/store';
import type { FastifyInstance } from 'fastify';

const RETRY_AFTER_SECONDS = '5';
const DOWN = 'The database is unavailable; the hub is restarting it. Retry shortly.';

/**
 * While the embedded PostgreSQL the hub supervises is down, SCIM and GraphQL
 * requests answer 503 with `Retry-After` in their own error shape, at once,
 * instead of waiting for a connection that cannot come. Registered before the
 * SCIM and GraphQL routes, so their scopes inherit the hook.
 */
export function registerAvailabilityGate(app: FastifyInstance, embedded: EmbeddedDatabase | undefined): void {
  if (!embedded) return;
  app.addHook('onRequest', async (request, reply) => {
    if (embedded.state === 'up') return;
    const path = request.url;
    if (path.startsWith('/scim/')) {
      return reply
        .code(503)
        .header('retry-after', RETRY_AFTER_SECONDS)
        .header('content-type', 'application/scim+json; charset=utf-8')
        .send(scimErrorBody(503, DOWN));
    }
    if (path === '/graphql' || path.startsWith('/graphql?')) {
      return reply
        .code(503)
        .header('retry-after', RETRY_AFTER_SECONDS)
        .header('content-type', 'application/json; charset=utf-8')
        .send({ errors: [{ message: DOWN, extensions: { code: 'UNAVAILABLE' } }] });
    }
  });
}

/**
 * `ok` while the file system holding `dir` has at least `minFreeBytes` free for
 * this user; `full` below that (PostgreSQL, the keys and the logs would start
 * failing), `unknown` where the platform cannot tell.
 */
export async function diskState(dir: string, minFreeBytes: number): Promise<'ok' | 'full' | 'unknown'> {
  try {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize >= minFreeBytes ? 'ok' : 'full';
  } catch {
    return 'unknown';
  }
}
