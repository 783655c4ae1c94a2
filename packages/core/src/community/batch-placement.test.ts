import { describe, expect, it } from '@jest/globals';
import { type BatchAccount, type BatchState, type KeyHolder, placeBatch } from './batch-placement.js';
import type { CurrentPlacement } from './placement.js';

const T = 'emea';
const ids = () => {
  let n = 0;
  return () => `p-new-${++n}`;
};
const account = (
  userId: string,
  keys: string[] | undefined,
  current?: CurrentPlacement,
  extra: Partial<BatchAccount> = {},
): BatchAccount => ({
  tenantId: T,
  userId,
  current,
  keys,
  hadConflict: false,
  ...extra,
});
const holder = (userId: string, key: string, personId: string, pinned = false): KeyHolder => ({
  key,
  tenantId: T,
  userId,
  personId,
  pinned,
});
const state = (holders: KeyHolder[] = [], sizes: Record<string, number> = {}): BatchState => ({
  holders,
  personSizes: new Map(Object.entries(sizes)),
});
const at = (personId: string, link: CurrentPlacement['link'] = 'none', pinned = false): CurrentPlacement => ({ personId, link, pinned });

describe('placeBatch: a batch places its accounts as one projection per account, in order, would', () => {
  it('two new accounts with one employeeNumber: the first stands alone, the second joins it, and the first takes the rule', () => {
    const batch = placeBatch([account('u1', ['employeeNumber:E1']), account('u2', ['employeeNumber:E1'])], state(), ids());
    const [first, second] = batch.decisions;
    expect(first?.placement).toMatchObject({ personId: 'p-new-1', newPerson: true });
    expect(second?.placement).toMatchObject({ personId: 'p-new-1', newPerson: false, link: 'rule:employeeNumber' });
    expect(first?.link).toBe('rule:employeeNumber');
    expect(second?.link).toBe('rule:employeeNumber');
    expect(batch.resolveAgain).toEqual(['p-new-1']);
  });

  it('an account joins a person by a key another account of the batch holds today', () => {
    const batch = placeBatch(
      [account('u2', ['employeeNumber:E7'])],
      state([holder('u1', 'employeeNumber:E7', 'p-ada')], { 'p-ada': 1 }),
      ids(),
    );
    expect(batch.decisions[0]?.placement).toMatchObject({ personId: 'p-ada', link: 'rule:employeeNumber' });
    // The loner outside the batch is linked by the same rule when the batch is written.
    expect([...batch.lonerLinks]).toEqual([['p-ada', 'rule:employeeNumber']]);
  });

  it('a key that moved earlier in the batch no longer attracts: the next account stands alone', () => {
    const batch = placeBatch(
      [account('u1', ['employeeNumber:E9'], at('p-ada')), account('u2', ['employeeNumber:E1'])],
      state([holder('u1', 'employeeNumber:E1', 'p-ada')], { 'p-ada': 1 }),
      ids(),
    );
    // u1 now holds E9, not E1: u2 finds nobody.
    expect(batch.decisions[1]?.placement).toMatchObject({ personId: 'p-new-1', newPerson: true, link: 'none' });
  });

  it('an account that left the directory earlier in the batch attracts nobody, and its person is resolved', () => {
    const batch = placeBatch(
      [account('u1', undefined, at('p-ada')), account('u2', ['employeeNumber:E1'])],
      state([holder('u1', 'employeeNumber:E1', 'p-ada')], { 'p-ada': 1 }),
      ids(),
    );
    expect(batch.decisions[0]?.placement).toBeUndefined();
    expect(batch.decisions[1]?.placement).toMatchObject({ personId: 'p-new-1', newPerson: true });
    expect(batch.resolveAgain).toEqual(expect.arrayContaining(['p-ada', 'p-new-1']));
  });

  it("a person emptied earlier in the batch is the next account's own: it stays there instead of taking a new one", () => {
    // u1 and u2 share p-both; u1 moves to p-cy by a new key; then u2, matching nobody, is alone in p-both and stays.
    const batch = placeBatch(
      [account('u1', ['employeeNumber:E3'], at('p-both', 'rule:employeeNumber')), account('u2', ['employeeNumber:E2'], at('p-both'))],
      state([holder('u3', 'employeeNumber:E3', 'p-cy')], { 'p-both': 2 }),
      ids(),
    );
    expect(batch.decisions[0]?.placement).toMatchObject({ personId: 'p-cy', resolveAgain: ['p-cy', 'p-both'] });
    expect(batch.decisions[1]?.placement).toMatchObject({ personId: 'p-both', newPerson: false, link: 'none' });
  });

  it('several people match: a conflict, and the account stays where it is', () => {
    const batch = placeBatch(
      [account('u1', ['employeeNumber:E1', 'email:ada@example.org'], at('p-ada', 'rule:employeeNumber'))],
      state([holder('u2', 'employeeNumber:E1', 'p-ada'), holder('u3', 'email:ada@example.org', 'p-other')], { 'p-ada': 2 }),
      ids(),
    );
    expect(batch.decisions[0]?.placement).toMatchObject({
      personId: 'p-ada',
      link: 'rule:employeeNumber',
      conflict: [
        { personId: 'p-ada', rule: 'employeeNumber' },
        { personId: 'p-other', rule: 'email' },
      ],
    });
  });

  it('accounts placed by hand stay and attract nobody, in the batch or outside it', () => {
    const batch = placeBatch(
      [account('u1', ['employeeNumber:E1'], at('p-hand', 'manual', true)), account('u2', ['employeeNumber:E1'])],
      state([holder('u1', 'employeeNumber:E1', 'p-hand', true), holder('u9', 'employeeNumber:E1', 'p-pinned', true)], {
        'p-hand': 1,
      }),
      ids(),
    );
    expect(batch.decisions[0]?.placement).toMatchObject({ personId: 'p-hand', link: 'manual' });
    expect(batch.decisions[1]?.placement).toMatchObject({ personId: 'p-new-1', link: 'none' });
    expect(batch.lonerLinks.size).toBe(0);
  });

  it('a loner of the batch placed before a join is linked by the rule that joined it', () => {
    // u1 stands alone in p-ada (link none) and is projected first; u2 then joins p-ada by u1's key.
    const batch = placeBatch(
      [account('u1', ['employeeNumber:E1'], at('p-ada')), account('u2', ['employeeNumber:E1'])],
      state([holder('u1', 'employeeNumber:E1', 'p-ada')], { 'p-ada': 1 }),
      ids(),
    );
    expect(batch.decisions.map((d) => [d.placement?.personId, d.link])).toEqual([
      ['p-ada', 'rule:employeeNumber'],
      ['p-ada', 'rule:employeeNumber'],
    ]);
  });

  it('names the accounts that arrived, moved or left (their managees are resolved again), not those that stayed', () => {
    const batch = placeBatch(
      [
        account('u1', ['employeeNumber:E1'], at('p-ada')),
        account('u2', ['employeeNumber:E2'], at('p-cy', 'rule:employeeNumber')),
        account('u3', undefined, at('p-gone')),
        account('u4', ['employeeNumber:E4']),
      ],
      state([holder('u9', 'employeeNumber:E2', 'p-bob')], { 'p-ada': 1, 'p-cy': 2, 'p-gone': 1 }),
      ids(),
    );
    expect(batch.moved.map((a) => a.userId)).toEqual(['u2', 'u3', 'u4']);
    expect(batch.resolveAgain).toEqual(expect.arrayContaining(['p-ada', 'p-bob', 'p-cy', 'p-gone', 'p-new-1']));
  });
});
