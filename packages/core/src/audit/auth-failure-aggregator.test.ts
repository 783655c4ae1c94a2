import { describe, expect, it } from '@jest/globals';
import { AuthenticationFailureAggregator, authFailurePrefix, OVERFLOW_DETAIL } from './auth-failure-aggregator.js';

const at = (iso: string) => new Date(`2026-12-07T${iso}Z`);
const failure = (sourceAddress: string, tokenPrefix?: string) => ({
  sourceAddress,
  requestId: `req-${sourceAddress}`,
  reason: 'invalid_token' as const,
  detail: 'UNKNOWN_TOKEN',
  ...(tokenPrefix !== undefined ? { tokenPrefix } : {}),
});

describe('AuthenticationFailureAggregator', () => {
  it('counts failures of one minute and key in one summary, with the first and last time and request', () => {
    const aggregator = new AuthenticationFailureAggregator();
    aggregator.add({ ...failure('192.0.2.1', 'mrd_secretsecret'), requestId: 'a' }, at('10:00:05'));
    aggregator.add({ ...failure('192.0.2.1', 'mrd_secretOTHER'), requestId: 'b' }, at('10:00:50'));
    aggregator.add({ ...failure('192.0.2.1', 'mrd_secretsecret'), requestId: 'c' }, at('10:01:01'));
    const [first, second, ...rest] = aggregator.drain();
    expect(rest).toEqual([]);
    // The prefix keeps 8 characters: both tokens are the family mrd_secr, counted together.
    expect(first).toMatchObject({
      tokenPrefix: 'mrd_secr',
      count: 2,
      minute: at('10:00:00'),
      firstAt: at('10:00:05'),
      lastAt: at('10:00:50'),
      firstRequestId: 'a',
      lastRequestId: 'b',
      tenantId: null,
    });
    expect(second).toMatchObject({ count: 1, minute: at('10:01:00'), firstRequestId: 'c' });
    expect(aggregator.size).toBe(0);
  });

  it('drains only the minutes that are over when given the time', () => {
    const aggregator = new AuthenticationFailureAggregator();
    aggregator.add(failure('192.0.2.1'), at('10:00:59'));
    aggregator.add(failure('192.0.2.1'), at('10:01:00'));
    expect(aggregator.drain(at('10:01:30')).map((s) => s.minute)).toEqual([at('10:00:00')]);
    expect(aggregator.drain(at('10:02:00')).map((s) => s.minute)).toEqual([at('10:01:00')]);
  });

  it('folds new keys into one overflow summary per chain, minute and reason past its bound, losing no count', () => {
    const aggregator = new AuthenticationFailureAggregator(3);
    for (let i = 0; i < 10; i++) aggregator.add(failure(`198.51.100.${i}`, `mrd_${i}`), at('10:00:00'));
    const drained = aggregator.drain();
    expect(drained).toHaveLength(4);
    expect(drained.reduce((sum, s) => sum + s.count, 0)).toBe(10);
    expect(drained.find((s) => s.detail === OVERFLOW_DETAIL)).toMatchObject({ count: 7, sourceAddress: null, tokenPrefix: '' });
  });

  it('puts back what could not be written, adding it to what was counted since', () => {
    const aggregator = new AuthenticationFailureAggregator();
    aggregator.add(failure('192.0.2.1'), at('10:00:01'));
    const taken = aggregator.drain();
    aggregator.add(failure('192.0.2.1'), at('10:00:02'));
    aggregator.restore(taken);
    expect(aggregator.drain()).toMatchObject([{ count: 2, firstAt: at('10:00:01'), lastAt: at('10:00:02') }]);
  });

  it('keeps apart chains, reasons and credentials', () => {
    const aggregator = new AuthenticationFailureAggregator();
    aggregator.add(failure('192.0.2.1'), at('10:00:00'));
    aggregator.add({ ...failure('192.0.2.1'), tenantId: 't1' }, at('10:00:00'));
    aggregator.add({ ...failure('192.0.2.1'), reason: 'expired_token' }, at('10:00:00'));
    aggregator.add({ ...failure('192.0.2.1'), credential: { type: 'Token', id: 'x' } }, at('10:00:00'));
    expect(aggregator.drain()).toHaveLength(4);
  });

  it('refuses a reason outside the closed set', () => {
    const aggregator = new AuthenticationFailureAggregator();
    expect(() => aggregator.add({ ...failure('192.0.2.1'), reason: 'nope' as 'invalid_token' }, at('10:00:00'))).toThrow(TypeError);
  });
});

describe('authFailurePrefix', () => {
  it('keeps at most 8 characters a bearer token may contain', () => {
    expect(authFailurePrefix('mrd_AbCdEfGh')).toBe('mrd_AbCd');
    expect(authFailurePrefix('a b"c<d>')).toBe('abcd');
    expect(authFailurePrefix(undefined)).toBe('');
  });
});
