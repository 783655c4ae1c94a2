// A child process of the LDAP bench that runs source syncs as `meridian source sync` does: the hub's runtime on
// the bench database, its SourceService, the platform admin as the caller. In a process of its own so that
// its CPU and resident memory are the hub side's alone. The parent talks to it over the IPC channel (main.ts).
import type { Principal } from '@meridian/core';
import { loadConfig, openRuntime, type Runtime } from '@meridian/hub';

/** A request from the parent; every one is answered with `{ id, ... }` (or `{ id, error }`). */
export type SyncRequest =
  | { id: number; type: 'open'; env: Record<string, string> }
  | { id: number; type: 'sync'; tenant: string; source: string; full: boolean }
  | { id: number; type: 'stop' };

/** What one sync took and did. */
export interface SyncTiming {
  /** From the call to its return (ms). */
  ms: number;
  /** From the call to the reader's last progress report: the source read and mapped (ms). */
  readMs: number;
  status: string;
  full: boolean;
  /** Entries read (distinct). */
  read: number;
  created: number;
  updated: number;
  deleted: number;
  failed: number;
}

const platform: Principal = { kind: 'platform', tokenId: 'bench', scopes: ['admin'] };
let runtime: Runtime | undefined;

async function answer(message: SyncRequest): Promise<Record<string, unknown>> {
  switch (message.type) {
    case 'open': {
      const env = message.env;
      runtime = await openRuntime(loadConfig({ ...env, REDIS_URL: env.REDIS_URL || undefined }), 'client');
      return {};
    }
    case 'sync': {
      if (!runtime) throw new Error('The runtime is not open.');
      const started = performance.now();
      let readAt = started;
      const result = await runtime.sources.sync(platform, message.tenant, message.source, {
        full: message.full,
        onProgress: (phase) => {
          if (phase === 'read') readAt = performance.now();
        },
      });
      const timing: SyncTiming = {
        ms: performance.now() - started,
        readMs: readAt - started,
        status: result.status,
        full: result.full,
        read: result.read,
        created: result.created,
        updated: result.updated,
        deleted: result.deleted,
        failed: result.failed.length,
      };
      return { timing };
    }
    case 'stop':
      await runtime?.close();
      runtime = undefined;
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (message: SyncRequest) => {
  answer(message).then(
    (body) => process.send?.({ ...body, id: message.id }),
    (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
