import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { SCHEMA } from '@meridian/core';
import {
  type Connector,
  type ConnectorErrorKind,
  isConnectorError,
  type OutboundMember,
  type OutboundObject,
  type RemoteRef,
} from '../spi.js';

/** A connector under test and how to tidy up after one test. */
export interface ConformanceSubject {
  connector: Connector;
  /** Runs after each test (close servers, drop fixtures). */
  cleanup?: () => Promise<void>;
}

/** Options of {@link runConnectorConformance}. */
export interface ConformanceOptions {
  /**
   * Makes the target fail the connector's next call with this kind of error
   * (a 503, a 429 with Retry-After, a 400). When given, the kit checks the
   * connector classifies each one; fault-injecting fakes provide it.
   */
  injectFault?: (kind: ConnectorErrorKind) => Promise<void> | void;
  /** Per-test timeout in milliseconds (default jest's). */
  timeoutMs?: number;
}

/** An outbound user as the engine would hand it over after the identity mapping. */
export function outboundUser(localId: string, userName: string, extra: Record<string, unknown> = {}): OutboundObject {
  return {
    kind: 'User',
    localId,
    version: 1,
    attributes: {
      schemas: [SCHEMA.user],
      userName,
      externalId: localId,
      name: { givenName: 'Conformance', familyName: userName },
      displayName: `Conformance ${userName}`,
      emails: [{ value: `${userName}@example.test`, type: 'work', primary: true }],
      active: true,
      ...extra,
    },
    members: [],
  };
}

/** An outbound group with members already translated to remote ids. */
export function outboundGroup(localId: string, displayName: string, members: OutboundMember[] = []): OutboundObject {
  return { kind: 'Group', localId, version: 1, attributes: { schemas: [SCHEMA.group], displayName, externalId: localId }, members };
}

function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return undefined;
}

async function expectConnectorError(promise: Promise<unknown>, expected: { kind?: ConnectorErrorKind; code?: string }): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(isConnectorError(caught)).toBe(true);
  if (!isConnectorError(caught)) return;
  if (expected.kind !== undefined) expect(caught.kind).toBe(expected.kind);
  if (expected.code !== undefined) expect(caught.code).toBe(expected.code);
}

/**
 * Registers the connector conformance suite with jest: every connector
 * package runs it against a real (or faithfully faked) target. `makeConnector`
 * is called once per test and should point at a clean or shared target;
 * the kit uses unique names and deletes what it created.
 *
 * @example
 * runConnectorConformance('scim', async () => ({ connector: scimConnectorFactory.create(config, secrets, context), cleanup: () => server.close() }));
 */
export function runConnectorConformance(
  name: string,
  makeConnector: () => Promise<Connector | ConformanceSubject> | Connector | ConformanceSubject,
  options: ConformanceOptions = {},
): void {
  describe(`connector conformance: ${name}`, () => {
    let subject: ConformanceSubject | undefined;
    let created: RemoteRef[] = [];
    const run = randomUUID().slice(0, 8);
    let counter = 0;
    const unique = (label: string): string => `conf-${run}-${++counter}-${label}`;

    async function connect(): Promise<Connector> {
      const made = await makeConnector();
      subject = 'connector' in made ? made : { connector: made };
      return subject.connector;
    }

    async function create(connector: Connector, object: OutboundObject): Promise<RemoteRef> {
      const ref = await connector.create(object);
      created.push(ref);
      return ref;
    }

    afterEach(async () => {
      if (subject) {
        // Groups first: a target may refuse to delete a user still in a group.
        for (const ref of [...created].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'Group' ? -1 : 1))) {
          await subject.connector.delete(ref).catch(() => undefined);
        }
        await subject.connector.close?.();
        await subject.cleanup?.();
      }
      subject = undefined;
      created = [];
    });

    const test = (title: string, fn: () => Promise<void>) => it(title, fn, options.timeoutMs);

    test('declares its capabilities and implements the optional methods they promise', async () => {
      const connector = await connect();
      const c = connector.capabilities;
      expect(c.kinds.length).toBeGreaterThan(0);
      expect(c.kinds.every((k) => k === 'User' || k === 'Group')).toBe(true);
      if (c.deactivate) expect(typeof connector.deactivate).toBe('function');
      if (c.password) expect(typeof connector.setPassword).toBe('function');
      if (c.membershipDeltas) expect(typeof connector.updateMembers).toBe('function');
      if (c.match) expect(typeof connector.match).toBe('function');
      if (c.list) expect(typeof connector.list).toBe('function');
      if (c.transferOwnership) expect(typeof connector.transferOwnership).toBe('function');
    });

    test('tests the connection without changing anything', async () => {
      const connector = await connect();
      const result = await connector.testConnection();
      expect(result.ok).toBe(true);
      expect(typeof result.message).toBe('string');
    });

    test('creates a user and reads it back', async () => {
      const connector = await connect();
      const user = outboundUser(randomUUID(), unique('ann'));
      const ref = await create(connector, user);
      expect(ref.kind).toBe('User');
      expect(typeof ref.remoteId).toBe('string');
      expect(ref.remoteId).not.toBe('');
      const read = await connector.get(ref);
      expect(read?.ref.remoteId).toBe(ref.remoteId);
      expect(String(read?.attributes.userName).toLowerCase()).toBe(String(user.attributes.userName).toLowerCase());
      expect(read?.attributes.externalId).toBe(user.localId);
    });

    test('a second create of the same user is a CONFLICT, not a duplicate', async () => {
      const connector = await connect();
      const user = outboundUser(randomUUID(), unique('dup'));
      await create(connector, user);
      await expectConnectorError(create(connector, user), { kind: 'permanent', code: 'CONFLICT' });
    });

    test('update replaces the attributes; repeating it changes nothing more', async () => {
      const connector = await connect();
      const user = outboundUser(randomUUID(), unique('upd'));
      const ref = await create(connector, user);
      const changed: OutboundObject = {
        ...user,
        version: 2,
        attributes: { ...user.attributes, displayName: 'Changed Name', title: 'Engineer' },
      };
      const first = await connector.update(ref, changed);
      const second = await connector.update(first, changed);
      expect(second.remoteId).toBe(ref.remoteId);
      const read = await connector.get(ref);
      expect(read?.attributes.displayName).toBe('Changed Name');
      expect(read?.attributes.title).toBe('Engineer');
    });

    test('update of an object the target no longer has is NOT_FOUND', async () => {
      const connector = await connect();
      const user = outboundUser(randomUUID(), unique('gone'));
      const ref = await connector.create(user);
      await connector.delete(ref);
      await expectConnectorError(connector.update(ref, { ...user, version: 2 }), { code: 'NOT_FOUND' });
    });

    test('delete removes the object and is idempotent', async () => {
      const connector = await connect();
      const ref = await connector.create(outboundUser(randomUUID(), unique('del')));
      await connector.delete(ref);
      expect(await connector.get(ref)).toBeUndefined();
      await connector.delete(ref);
    });

    test('deactivate sets active false, twice without error (when capable)', async () => {
      const connector = await connect();
      if (!connector.capabilities.deactivate || !connector.deactivate) return;
      const ref = await create(connector, outboundUser(randomUUID(), unique('off')));
      await connector.deactivate(ref);
      await connector.deactivate(ref);
      const read = await connector.get(ref);
      expect(asBoolean(read?.attributes.active)).toBe(false);
    });

    test('match finds an existing user by userName or externalId, and nothing for a stranger (when capable)', async () => {
      const connector = await connect();
      if (!connector.capabilities.match || !connector.match) return;
      const user = outboundUser(randomUUID(), unique('match'));
      const ref = await create(connector, user);
      const found = await connector.match({ ...user, localId: user.localId });
      expect(found?.ref.remoteId).toBe(ref.remoteId);
      expect(await connector.match(outboundUser(randomUUID(), unique('nobody')))).toBeUndefined();
    });

    test('sets a password (when capable)', async () => {
      const connector = await connect();
      if (!connector.capabilities.password || !connector.setPassword) return;
      const ref = await create(connector, outboundUser(randomUUID(), unique('pw')));
      await connector.setPassword(ref, 'Correct-Horse-Battery-9');
    });

    test('creates a group with members and changes its membership', async () => {
      const connector = await connect();
      if (!connector.capabilities.kinds.includes('Group')) return;
      const userA = outboundUser(randomUUID(), unique('ga'));
      const userB = outboundUser(randomUUID(), unique('gb'));
      const refA = await create(connector, userA);
      const refB = await create(connector, userB);
      const memberA: OutboundMember = { kind: 'User', localId: userA.localId, remoteId: refA.remoteId };
      const memberB: OutboundMember = { kind: 'User', localId: userB.localId, remoteId: refB.remoteId };
      const group = outboundGroup(randomUUID(), unique('group'), [memberA]);
      const ref = await create(connector, group);
      expect((await connector.get(ref))?.members).toEqual([refA.remoteId]);
      if (connector.capabilities.membershipDeltas && connector.updateMembers) {
        await connector.updateMembers(ref, { add: [memberB], remove: [refA.remoteId] });
        // Applying the same delta again is harmless.
        await connector.updateMembers(ref, { add: [memberB], remove: [refA.remoteId] });
      } else {
        await connector.update(ref, { ...group, version: 2, members: [memberB] });
      }
      expect((await connector.get(ref))?.members).toEqual([refB.remoteId]);
      await connector.update(ref, { ...group, version: 3, attributes: { ...group.attributes, displayName: unique('renamed') } });
      expect((await connector.get(ref))?.attributes.displayName).toMatch(/renamed$/);
    });

    test('lists the objects of a kind (when capable)', async () => {
      const connector = await connect();
      if (!connector.capabilities.list || !connector.list) return;
      const ref = await create(connector, outboundUser(randomUUID(), unique('list')));
      const seen: string[] = [];
      for await (const object of connector.list('User')) seen.push(object.ref.remoteId);
      expect(seen).toContain(ref.remoteId);
    });

    test('transfers ownership between two users, a repeat moving nothing more (when capable)', async () => {
      const connector = await connect();
      if (!connector.capabilities.transferOwnership || !connector.transferOwnership) return;
      const from = await create(connector, outboundUser(randomUUID(), unique('leaver')));
      const to = await create(connector, outboundUser(randomUUID(), unique('successor')));
      const first = await connector.transferOwnership(from, to);
      expect(Number.isInteger(first.transferred) && first.transferred >= 0).toBe(true);
      expect((await connector.transferOwnership(from, to)).transferred).toBe(0);
      await connector.delete(to);
      await expectConnectorError(connector.transferOwnership(from, to), { code: 'NOT_FOUND' });
    });

    const inject = options.injectFault;
    if (inject) {
      test('classifies a server failure as transient', async () => {
        const connector = await connect();
        await inject('transient');
        await expectConnectorError(connector.create(outboundUser(randomUUID(), unique('t'))), { kind: 'transient' });
      });

      test('classifies throttling as rate_limited with the wait it asked for', async () => {
        const connector = await connect();
        await inject('rate_limited');
        let caught: unknown;
        await connector.create(outboundUser(randomUUID(), unique('r'))).catch((error: unknown) => {
          caught = error;
        });
        expect(isConnectorError(caught) && caught.kind).toBe('rate_limited');
        expect(isConnectorError(caught) && typeof caught.retryAfterMs).toBe('number');
      });

      test('classifies a rejected request as permanent, with the request and response recorded', async () => {
        const connector = await connect();
        await inject('permanent');
        let caught: unknown;
        await connector.create(outboundUser(randomUUID(), unique('p'))).catch((error: unknown) => {
          caught = error;
        });
        expect(isConnectorError(caught) && caught.kind).toBe('permanent');
      });
    }
  });
}
