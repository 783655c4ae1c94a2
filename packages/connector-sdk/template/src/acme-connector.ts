import {
  type ConnectionTestResult,
  type Connector,
  type ConnectorCapabilities,
  type ConnectorContext,
  ConnectorError,
  type ConnectorFactory,
  type ConnectorSecrets,
  classifyHttpStatus,
  type OutboundObject,
  type RemoteObject,
  type RemoteRef,
} from '@meridian/connector-sdk';
import { MeridianError, type ResourceKind } from '@meridian/core';

/** The validated config of one Acme target; the API key is a secret, kept apart. */
export interface AcmeConfig {
  baseUrl: string;
}

// Say only what you really do: the engine never calls a method whose capability is false.
const CAPABILITIES: ConnectorCapabilities = {
  kinds: ['User'],
  deactivate: true,
  password: false,
  membershipDeltas: false,
  match: true,
  list: true,
};

const PATHS: Record<ResourceKind, string> = { User: '/people', Group: '/teams' };

/** What Acme's API calls a person, from the mapped SCIM attributes. */
function toAcme(object: OutboundObject): Record<string, unknown> {
  const a = object.attributes as {
    userName?: string;
    externalId?: string;
    active?: boolean;
    name?: { givenName?: string; familyName?: string };
  };
  return { login: a.userName, reference: a.externalId, enabled: a.active !== false, first: a.name?.givenName, last: a.name?.familyName };
}

/** An Acme person read back, in SCIM shape (reconciliation compares these). */
function fromAcme(body: Record<string, unknown>): RemoteObject {
  return {
    ref: { kind: 'User', remoteId: String(body.id) },
    attributes: {
      userName: body.login,
      externalId: body.reference,
      active: body.enabled,
      name: { givenName: body.first, familyName: body.last },
    },
    members: [],
  };
}

/** A connector to the (fictional) Acme directory's REST API. Copy, rename, fill in. */
export class AcmeConnector implements Connector {
  readonly capabilities = CAPABILITIES;

  constructor(
    private readonly config: AcmeConfig,
    private readonly apiKey: string,
    private readonly context: ConnectorContext,
  ) {}

  /** One HTTP call; every failure becomes a ConnectorError the engine can act on. */
  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
    const url = `${this.config.baseUrl}${path}`;
    let response: Response;
    try {
      response = await this.context.fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(this.context.signal ? { signal: this.context.signal } : {}),
      });
    } catch (cause) {
      // Network errors and timeouts are worth retrying.
      throw new ConnectorError('transient', `Acme is unreachable: ${(cause as Error).message}`, { cause, request: { method, url } });
    }
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    if (response.ok) return { status: response.status, body: parsed };
    const retryAfter = response.headers.get('retry-after');
    throw new ConnectorError(classifyHttpStatus(response.status, retryAfter !== null), `Acme answered ${response.status}`, {
      status: response.status,
      ...(retryAfter !== null && /^\d+$/.test(retryAfter) ? { retryAfterMs: Number(retryAfter) * 1000 } : {}),
      ...(response.status === 404 ? { code: 'NOT_FOUND' as const } : response.status === 409 ? { code: 'CONFLICT' as const } : {}),
      // Never the Authorization header: dead letters are shown to admins.
      request: { method, url, ...(body !== undefined ? { body } : {}) },
      response: { status: response.status, body: parsed ?? text },
    });
  }

  async testConnection(): Promise<ConnectionTestResult> {
    const started = Date.now();
    await this.call('GET', '/health');
    return { ok: true, message: 'Acme answered', latencyMs: Date.now() - started };
  }

  async match(object: OutboundObject): Promise<RemoteObject | undefined> {
    const login = encodeURIComponent(String(object.attributes.userName ?? ''));
    const found = await this.call('GET', `${PATHS.User}?login=${login}`);
    const first = (found.body?.items as Record<string, unknown>[] | undefined)?.[0];
    return first && fromAcme(first);
  }

  async create(object: OutboundObject): Promise<RemoteRef> {
    const created = await this.call('POST', PATHS[object.kind], toAcme(object));
    return { kind: object.kind, remoteId: String(created.body?.id) };
  }

  async update(ref: RemoteRef, object: OutboundObject): Promise<RemoteRef> {
    await this.call('PUT', `${PATHS[ref.kind]}/${encodeURIComponent(ref.remoteId)}`, toAcme(object));
    return ref;
  }

  async deactivate(ref: RemoteRef): Promise<void> {
    await this.call('PATCH', `${PATHS[ref.kind]}/${encodeURIComponent(ref.remoteId)}`, { enabled: false });
  }

  async delete(ref: RemoteRef): Promise<void> {
    try {
      await this.call('DELETE', `${PATHS[ref.kind]}/${encodeURIComponent(ref.remoteId)}`);
    } catch (error) {
      // Deleting what is already gone succeeds: the engine may call delete again after a crash.
      if (!(error instanceof ConnectorError && error.code === 'NOT_FOUND')) throw error;
    }
  }

  async get(ref: RemoteRef): Promise<RemoteObject | undefined> {
    try {
      const found = await this.call('GET', `${PATHS[ref.kind]}/${encodeURIComponent(ref.remoteId)}`);
      return found.body && fromAcme(found.body);
    } catch (error) {
      if (error instanceof ConnectorError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  async *list(kind: ResourceKind): AsyncIterable<RemoteObject> {
    let page = 1;
    for (;;) {
      const found = await this.call('GET', `${PATHS[kind]}?page=${page}`);
      const items = (found.body?.items as Record<string, unknown>[] | undefined) ?? [];
      for (const item of items) yield fromAcme(item);
      if (items.length === 0 || found.body?.last === true) return;
      page += 1;
    }
  }
}

/** The `acme` connector kind. */
export const acmeConnectorFactory: ConnectorFactory<AcmeConfig> = {
  kind: 'acme',
  description: 'Acme directory (REST)',
  secretNames: ['apiKey'],
  validateConfig(config: unknown, secrets: ConnectorSecrets): AcmeConfig {
    const baseUrl = (config as { baseUrl?: unknown } | null)?.baseUrl;
    if (typeof baseUrl !== 'string' || !URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
      throw new MeridianError('INVALID_CONFIG', "'baseUrl' must be an absolute http(s) URL.", { field: 'config.baseUrl' });
    }
    if (!secrets.apiKey) throw new MeridianError('INVALID_CONFIG', "The secret 'apiKey' is required.", { field: 'secrets.apiKey' });
    return { baseUrl: baseUrl.replace(/\/+$/, '') };
  },
  create: (config, secrets, context) => new AcmeConnector(config, secrets.apiKey as string, context),
};
