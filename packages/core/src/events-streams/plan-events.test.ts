import { describe, expect, it } from '@jest/globals';
import { resourceShapes } from '../scim/resource-types.js';
import { changedPaths, planStreamEvents, releasedDocument, type StreamChange, streamRules } from './plan-events.js';
import { STREAM_EVENT } from './stream-config.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const sales = (email: string, title = 'Clerk', active = true) => ({
  userName: 'ann',
  active,
  title,
  emails: [{ value: email, type: 'work' }],
  [ENTERPRISE]: { department: 'Sales' },
});
const change = (type: string, before: StreamChange['before'], after: StreamChange['after']): StreamChange => ({
  eventId: '7',
  requestId: 'r1',
  type,
  kind: 'User',
  resourceId: 'u1',
  version: 3,
  before,
  after,
});
const all = { visible: true, released: null };
const rules = (extra: { filter?: string; attributes?: string[]; events?: string[] } = {}) =>
  streamRules({
    eventsRequested: extra.events ?? [
      STREAM_EVENT.createNotice,
      STREAM_EVENT.patchNotice,
      STREAM_EVENT.putNotice,
      STREAM_EVENT.delete,
      STREAM_EVENT.feedAdd,
      STREAM_EVENT.feedRemove,
      STREAM_EVENT.deactivate,
      STREAM_EVENT.accountDisabled,
    ],
    filter: extra.filter ?? null,
    attributes: extra.attributes ?? [],
  });

describe('planStreamEvents', () => {
  const inSales = rules({ filter: `${ENTERPRISE}:department eq "Sales"`, attributes: ['emails'] });

  it('tells an email change of a person in the subset, in notice form', () => {
    const events = planStreamEvents(inSales, change('user.updated', sales('a@x'), sales('b@x')), all, resourceShapes.User);
    expect(events).toEqual([{ type: STREAM_EVENT.patchNotice, payload: { version: 'W/"3"', attributes: ['emails'] } }]);
  });

  it('tells nothing of a change outside the stream attributes or outside the filter', () => {
    expect(planStreamEvents(inSales, change('user.updated', sales('a@x'), sales('a@x', 'Boss')), all, resourceShapes.User)).toEqual([]);
    const hr = { ...sales('a@x'), [ENTERPRISE]: { department: 'HR' } };
    expect(planStreamEvents(inSales, change('user.updated', hr, { ...hr, emails: [{ value: 'c@x' }] }), all, resourceShapes.User)).toEqual(
      [],
    );
  });

  it('tells a person leaving the subset once, with feed:remove, and one entering it with feed:add', () => {
    const hr = { ...sales('a@x'), [ENTERPRISE]: { department: 'HR' } };
    expect(planStreamEvents(inSales, change('user.updated', sales('a@x'), hr), all, resourceShapes.User).map((e) => e.type)).toEqual([
      STREAM_EVENT.feedRemove,
    ]);
    expect(planStreamEvents(inSales, change('user.updated', hr, sales('a@x')), all, resourceShapes.User).map((e) => e.type)).toEqual([
      STREAM_EVENT.feedAdd,
    ]);
  });

  it('tells a deletion only to streams that held the resource, and nothing to a receiver that may not see it', () => {
    expect(planStreamEvents(inSales, change('user.deleted', sales('a@x'), null), all, resourceShapes.User).map((e) => e.type)).toEqual([
      STREAM_EVENT.delete,
    ]);
    const hr = { ...sales('a@x'), [ENTERPRISE]: { department: 'HR' } };
    expect(planStreamEvents(inSales, change('user.deleted', hr, null), all, resourceShapes.User)).toEqual([]);
    expect(
      planStreamEvents(inSales, change('user.deleted', sales('a@x'), null), { visible: false, released: null }, resourceShapes.User),
    ).toEqual([]);
  });

  it('deactivation is prov:deactivate and RISC account-disabled, whatever the attributes', () => {
    const events = planStreamEvents(inSales, change('user.replaced', sales('a@x'), sales('a@x', 'Clerk', false)), all, resourceShapes.User);
    expect(events.map((e) => e.type)).toEqual([STREAM_EVENT.deactivate, STREAM_EVENT.accountDisabled]);
  });

  it('CAEP and RISC where they apply: a password set, a suspension, a deletion, each with event_timestamp', () => {
    const caep = rules({
      filter: `${ENTERPRISE}:department eq "Sales"`,
      events: [STREAM_EVENT.credentialChange, STREAM_EVENT.sessionRevoked, STREAM_EVENT.accountDisabled, STREAM_EVENT.accountPurged],
    });
    const at = new Date('2026-12-08T10:00:00Z');
    const when = { event_timestamp: at.getTime() / 1000 };
    const password = { ...change('user.updated', sales('a@x'), sales('a@x')), occurredAt: at, credentialChanged: true };
    expect(planStreamEvents(caep, password, all, resourceShapes.User)).toEqual([
      { type: STREAM_EVENT.credentialChange, payload: { credential_type: 'password', change_type: 'update', ...when } },
    ]);
    const created = { ...change('user.created', null, sales('a@x')), occurredAt: at, credentialChanged: true };
    expect(planStreamEvents(caep, created, all, resourceShapes.User).map((e) => e.payload.change_type)).toEqual(['create']);
    // Outside the subset, a password change means nothing; without the flag, nothing either.
    const hr = { ...sales('a@x'), [ENTERPRISE]: { department: 'HR' } };
    expect(planStreamEvents(caep, { ...password, before: hr, after: hr }, all, resourceShapes.User)).toEqual([]);
    expect(planStreamEvents(caep, { ...password, credentialChanged: false }, all, resourceShapes.User)).toEqual([]);
    const suspended = { ...change('user.updated', sales('a@x'), sales('a@x', 'Clerk', false)), occurredAt: at };
    expect(planStreamEvents(caep, suspended, all, resourceShapes.User)).toEqual([
      { type: STREAM_EVENT.accountDisabled, payload: when },
      { type: STREAM_EVENT.sessionRevoked, payload: when },
    ]);
    const deleted = { ...change('user.deleted', sales('a@x'), null), occurredAt: at };
    expect(planStreamEvents(caep, deleted, all, resourceShapes.User)).toEqual([
      { type: STREAM_EVENT.accountPurged, payload: when },
      { type: STREAM_EVENT.sessionRevoked, payload: when },
    ]);
  });

  it('gives the full form with the released attributes only', () => {
    const full = rules({ events: [STREAM_EVENT.patchFull] });
    const events = planStreamEvents(
      full,
      change('user.updated', sales('a@x'), sales('b@x', 'Boss')),
      { visible: true, released: ['emails'] },
      resourceShapes.User,
    );
    expect(events).toEqual([
      { type: STREAM_EVENT.patchFull, payload: { version: 'W/"3"', data: { id: 'u1', emails: [{ value: 'b@x', type: 'work' }] } } },
    ]);
  });

  it('a filter on an attribute not released to the receiver matches nothing', () => {
    const events = planStreamEvents(
      inSales,
      change('user.updated', sales('a@x'), sales('b@x')),
      { visible: true, released: ['emails'] },
      resourceShapes.User,
    );
    expect(events).toEqual([]);
  });
});

describe('changedPaths and releasedDocument', () => {
  it('names changed extension and sub-attributes by path', () => {
    const paths = changedPaths(
      { name: { givenName: 'A', familyName: 'B' }, [ENTERPRISE]: { department: 'Sales' } },
      { name: { givenName: 'C', familyName: 'B' }, [ENTERPRISE]: { department: 'HR' }, title: 'x' },
    );
    expect(
      paths.map((p) => (p.schema ? `${p.schema}:${p.attribute}` : p.subAttribute ? `${p.attribute}.${p.subAttribute}` : p.attribute)),
    ).toEqual(['name.givenName', `${ENTERPRISE}:department`, 'title']);
  });

  it('keeps the released paths only', () => {
    expect(
      releasedDocument({ id: 'u', title: 't', userName: 'n', name: { givenName: 'g', familyName: 'f' } }, ['name.givenName', 'title']),
    ).toEqual({
      id: 'u',
      title: 't',
      name: { givenName: 'g' },
    });
  });
});
