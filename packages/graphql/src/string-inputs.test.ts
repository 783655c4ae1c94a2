import { describe, expect, it } from '@jest/globals';
import { Kind, type OperationDefinitionNode, parse } from 'graphql';
import { findBadString } from './string-inputs.js';

// Issue 12: a NUL in a GraphQL argument answered INTERNAL_SERVER_ERROR. One walk finds a bad string in any
// argument, literal or variable, however deep, and names the argument's path.

function check(query: string, variables: Record<string, unknown> = {}, operationName?: string) {
  const document = parse(query);
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operations.find((o) => operationName === undefined || o.name?.value === operationName) as OperationDefinitionNode;
  return findBadString(document, operation, variables);
}

const NUL = 'must not contain the NUL character (U+0000)';

describe('findBadString', () => {
  it.each([
    ['{ tenant(slug: "a\\u0000") { id } }', {}, 'slug'],
    ['{ a(input: { list: ["ok", { deep: "\\u0000" }] }) }', {}, 'input.list[1].deep'],
    ['query($v: String) { a(x: $v) }', { v: '\u0000' }, 'x'],
    ['query($v: In) { a(input: { inner: $v }) }', { v: { k: ['ok', 'b\u0000'] } }, 'input.inner.k[1]'],
    ['query($v: String = "\\u0000") { a(x: $v) }', {}, 'x'],
    ['query($v: J) { a(json: $v) }', { v: { 'key\u0000': 1 } }, 'json.key\u0000'],
    ['{ a { b(x: "\\u0000") } }', {}, 'x'],
    ['{ ...F } fragment F on Query { a(y: "\\u0000") }', {}, 'y'],
    ['{ a @include(if: true) @custom(reason: "\\u0000") }', {}, 'reason'],
  ])('%s names %s', (query, variables, field) => {
    expect(check(query, variables)).toEqual({ field, problem: NUL });
  });

  it('names a lone surrogate in a variable, and lets a surrogate pair through', () => {
    expect(check('query($v: String) { a(x: $v) }', { v: 'ab\udc00' })).toEqual({
      field: 'x',
      problem: 'must be well-formed Unicode: it has an unpaired surrogate (U+DC00) at character 3',
    });
    expect(check('query($v: String) { a(x: $v) }', { v: 'ok 😀' })).toBeUndefined();
  });

  it('uses a given variable over its default, and ignores variables no argument uses', () => {
    expect(check('query($v: String = "\\u0000") { a(x: $v) }', { v: 'fine' })).toBeUndefined();
    expect(check('query($v: String) { a(x: "fine") }', { v: '\u0000', other: '\u0000' })).toBeUndefined();
  });

  it('leaves numbers, booleans, enums and nulls alone; lengths are not its business', () => {
    expect(check('{ a(n: 1, b: true, e: ENUM, z: null, s: "ok") }')).toBeUndefined();
    expect(check('query($v: String) { a(x: $v) }', { v: 'x'.repeat(100_000) })).toBeUndefined();
  });
});
