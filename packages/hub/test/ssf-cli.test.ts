import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { STREAM_EVENT } from '@meridian/core';
import { createTestDatabase, type TestDatabase } from '@meridian/test-utils';

// Issue 17: `meridian stream create|list|status|pause|resume|delete`, as docs/events.md shows them.

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let db: TestDatabase;

async function meridian(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent', MERIDIAN_PUBLIC_URL: 'https://hub.example' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  expect((await meridian('community', 'create', '--slug', 'coi', '--name', 'CoI')).code).toBe(0);
}, 120_000);
afterAll(() => db.close());

describe('meridian stream', () => {
  it('creates, lists, pauses, resumes and deletes a stream, with --json', async () => {
    const token = JSON.parse((await meridian('token', 'create', '--community', 'coi', '--role', 'hr_reader', '--json')).stdout) as {
      id: string;
    };
    const created = await meridian(
      'stream',
      'create',
      '--community',
      'coi',
      '--token-id',
      token.id,
      '--events',
      'prov:patch:notice,feed:add,account-disabled',
      '--filter',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"',
      '--attributes',
      'emails,title',
      '--json',
    );
    expect(created.code).toBe(0);
    const stream = JSON.parse(created.stdout) as { stream_id: string; events_requested: string[]; status: string };
    expect(stream.events_requested).toEqual([STREAM_EVENT.patchNotice, STREAM_EVENT.feedAdd, STREAM_EVENT.accountDisabled]);
    expect(stream.status).toBe('enabled');

    const listed = JSON.parse((await meridian('stream', 'list', '--community', 'coi', '--json')).stdout) as {
      stream_id: string;
      counts: Record<string, number>;
    }[];
    expect(listed).toEqual([
      expect.objectContaining({ stream_id: stream.stream_id, counts: { pending: 0, delivered: 0, acknowledged: 0, failed: 0, dead: 0 } }),
    ]);
    const paused = await meridian('stream', 'pause', stream.stream_id, '--community', 'coi', '--json');
    expect(JSON.parse(paused.stdout)).toMatchObject({ status: 'paused' });
    const status = await meridian('stream', 'status', stream.stream_id, '--community', 'coi');
    expect(status.stdout).toContain(`${stream.stream_id}\tpaused\ttoken ${token.id}\tpoll`);
    expect(JSON.parse((await meridian('stream', 'resume', stream.stream_id, '--community', 'coi', '--json')).stdout)).toMatchObject({
      status: 'enabled',
    });
    expect((await meridian('stream', 'delete', stream.stream_id, '--community', 'coi', '--json')).code).toBe(0);
    const gone = await meridian('stream', 'status', stream.stream_id, '--community', 'coi', '--json');
    expect(gone.code).toBe(1);
    expect(JSON.parse(gone.stderr)).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });

  it('refuses a bad filter and an unknown event name', async () => {
    const bad = await meridian(
      'stream',
      'create',
      '--community',
      'coi',
      '--client-id',
      'rp_x',
      '--events',
      'prov:delete',
      '--filter',
      'title eq',
      '--json',
    );
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr).error.code).toBe('INVALID_FILTER');
    const unknown = await meridian('stream', 'create', '--community', 'coi', '--client-id', 'rp_x', '--events', 'nonsense', '--json');
    expect(JSON.parse(unknown.stderr).error).toEqual({ code: 'USAGE', message: "Unknown event type 'nonsense'." });
    const nobody = await meridian(
      'stream',
      'create',
      '--community',
      'coi',
      '--client-id',
      'rp_nobody',
      '--events',
      'prov:delete',
      '--json',
    );
    expect(JSON.parse(nobody.stderr).error.code).toBe('NOT_FOUND');
  });
});
