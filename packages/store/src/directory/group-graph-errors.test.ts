import { describe, expect, it } from '@jest/globals';
import { MeridianError } from '@meridian/core';
import { cycleMessage, translateCycleError } from './group-graph-errors.js';

const step = (n: number) => ({ id: `id-${n}`, displayName: `G${n}` });
/** A cycle of `size` groups as the trigger reports it: from group 0 through the new member back to group 0. */
const cycle = (size: number) => [...Array.from({ length: size }, (_, i) => step(i)), step(0)];

describe('cycleMessage', () => {
  it('names every group of a cycle of up to 7 groups', () => {
    expect(cycleMessage(cycle(7))).toBe(
      "Group 'G1' (id-1) cannot be a member of group 'G0' (id-0): it would close a cycle of 7 groups, each containing the next: " +
        'G0 > G1 > G2 > G3 > G4 > G5 > G6 > G0.',
    );
  });

  it('names the first and last four of a longer cycle and counts the rest', () => {
    expect(cycleMessage(cycle(8))).toBe(
      "Group 'G1' (id-1) cannot be a member of group 'G0' (id-0): it would close a cycle of 8 groups, each containing the next: " +
        'G0 > G1 > G2 > G3 > … 1 more … > G5 > G6 > G7 > G0.',
    );
  });

  it('uses the id of a group whose name it does not have', () => {
    expect(cycleMessage([step(0), { id: 'id-1', displayName: null }, step(0)])).toBe(
      "Group 'id-1' (id-1) cannot be a member of group 'G0' (id-0): it would close a cycle of 2 groups, each containing the next: G0 > id-1 > G0.",
    );
  });

  it('says a group cannot be its own member', () => {
    expect(cycleMessage([step(0), step(0)])).toBe('A group cannot be a member of itself.');
  });
});

describe('translateCycleError', () => {
  it("turns the trigger's refusal into INVALID_INPUT on members", () => {
    const refusal = { code: '23514', constraint: 'group_member_acyclic', detail: JSON.stringify(cycle(2)) };
    const error = translateCycleError(Object.assign(new Error('refused'), refusal));
    expect(error).toBeInstanceOf(MeridianError);
    expect(error).toMatchObject({
      code: 'INVALID_INPUT',
      field: 'members',
      message:
        "Group 'G1' (id-1) cannot be a member of group 'G0' (id-0): it would close a cycle of 2 groups, each containing the next: G0 > G1 > G0.",
    });
  });

  it('leaves other check violations as they are', () => {
    const other = Object.assign(new Error('other'), { code: '23514', constraint: 'some_check' });
    expect(translateCycleError(other)).toBe(other);
  });
});
