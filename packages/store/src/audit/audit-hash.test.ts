import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { type AuditHashInput, canonicalParts, hashAuditEntry, type UnchainedAuditEntry } from './audit-hash.js';

// The database hashes an appended entry from three parts of its canonical JSON around `prevHash` and `seq`
// (meridian_append_audit, ADR 0023); the verifier hashes the whole entry. The two must agree for any entry.

const base: UnchainedAuditEntry = {
  chain: '01a2504a-b7ed-77a8-a017-9de6b34ec4c7',
  tenantId: '01a2504a-b7ed-77a8-a017-9de6b34ec4c7',
  actorType: 'token',
  actorId: 'tok',
  action: 'user.created',
  resourceType: 'User',
  resourceId: 'u-1',
  requestId: 'req-1',
  sourceAddress: '127.0.0.1',
  diff: { before: null, after: { userName: 'ada@example.org' } },
  createdAt: '2026-12-07T11:36:43.868Z',
};

function databaseHash(entry: UnchainedAuditEntry, prevHash: string, seq: number): string {
  const [a, b, c] = canonicalParts(entry);
  return createHash('sha256').update(`${a}${prevHash}${b}${seq}${c}`).digest('hex');
}

describe('canonicalParts', () => {
  const prevHash = createHash('sha256').update('previous').digest('hex');
  const cases: [string, UnchainedAuditEntry][] = [
    ['a plain entry', base],
    ['no diff, no address, no tenant', { ...base, diff: null, sourceAddress: null, tenantId: null, chain: '' }],
    [
      'a diff that names seq and prevHash itself, with the stand-in values',
      {
        ...base,
        diff: { after: { seq: Number.MAX_SAFE_INTEGER, prevHash: `${'f'.repeat(63)}e`, nested: { '"seq":1': 'x' } } },
      },
    ],
    [
      'quotes, backslashes, control characters and non-ASCII text',
      { ...base, requestId: 'a"b\\c\n', resourceId: '"seq":9007199254740991,', diff: { after: { name: 'Zoë 李 😀 \u0001 "x"' } } },
    ],
  ];
  for (const [name, entry] of cases) {
    it(`agrees with the verifier's hash: ${name}`, () => {
      for (const seq of [1, 42, 123_456_789]) {
        const full: AuditHashInput = { ...entry, seq, prevHash };
        expect(databaseHash(entry, prevHash, seq)).toBe(hashAuditEntry(full));
      }
    });
  }
});
