import { MeridianError } from '../errors/meridian-error.js';
import { textProblem } from '../scim/input-limits.js';
import type { AttributePath, CompareOperator, CompareValue, Filter } from './ast.js';

/** Limits that keep a hostile filter from costing more than it is worth. */
export interface FilterLimits {
  maxLength: number;
  maxDepth: number;
}

const DEFAULT_LIMITS: FilterLimits = { maxLength: 4096, maxDepth: 32 };

type Token =
  | { kind: 'word'; text: string; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'number'; value: number; at: number }
  | { kind: 'punct'; text: '(' | ')' | '[' | ']'; at: number };

const COMPARE_OPERATORS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);

function invalid(message: string): MeridianError {
  return new MeridianError('INVALID_FILTER', message, { field: 'filter' });
}

function isClosingBracket(token: Token | undefined): boolean {
  return token?.kind === 'punct' && token.text === ']';
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i] as string;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
    } else if (ch === '(' || ch === ')' || ch === '[' || ch === ']') {
      tokens.push({ kind: 'punct', text: ch, at: i });
      i++;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < input.length && input[j] !== '"') j += input[j] === '\\' ? 2 : 1;
      if (j >= input.length) throw invalid(`Unterminated string at position ${i}.`);
      try {
        tokens.push({ kind: 'string', value: JSON.parse(input.slice(i, j + 1)) as string, at: i });
      } catch {
        throw invalid(`Invalid string literal at position ${i}.`);
      }
      i = j + 1;
    } else if (/[-0-9]/.test(ch) && /^-?\d/.test(input.slice(i, i + 2))) {
      const match = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(input.slice(i));
      const text = match?.[0] ?? ch;
      tokens.push({ kind: 'number', value: Number(text), at: i });
      i += text.length;
    } else if (/[A-Za-z_$]/.test(ch) || (ch === '.' && isClosingBracket(tokens[tokens.length - 1]))) {
      const match = /^\.?[A-Za-z0-9_$:.-]+/.exec(input.slice(i));
      const text = match?.[0] ?? ch;
      tokens.push({ kind: 'word', text, at: i });
      i += text.length;
    } else {
      throw invalid(`Unexpected character '${ch}' at position ${i}.`);
    }
  }
  return tokens;
}

/**
 * Splits an attribute path, URN-qualified or not (RFC 7644 §3.10).
 *
 * @example
 * parseAttributePath('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value')
 */
export function parseAttributePath(text: string): AttributePath {
  let schema: string | undefined;
  let rest = text;
  if (/^urn:/i.test(text)) {
    const cut = text.lastIndexOf(':');
    schema = text.slice(0, cut);
    rest = text.slice(cut + 1);
  }
  const parts = rest.split('.');
  const [attribute, subAttribute, ...extra] = parts;
  const name = /^[A-Za-z$][A-Za-z0-9_$-]*$/;
  if (!attribute || !name.test(attribute) || extra.length > 0 || (subAttribute !== undefined && !name.test(subAttribute))) {
    throw invalid(`Invalid attribute path '${text}'.`);
  }
  const path: AttributePath = { attribute };
  if (schema !== undefined) path.schema = schema;
  if (subAttribute !== undefined) path.subAttribute = subAttribute;
  return path;
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly maxDepth: number,
  ) {}

  parse(): Filter {
    if (this.tokens.length === 0) throw invalid('The filter is empty.');
    const filter = this.parseOr();
    const rest = this.tokens[this.pos];
    if (rest) throw invalid(`Unexpected token at position ${rest.at}.`);
    return filter;
  }

  private peekWord(): string | undefined {
    const t = this.tokens[this.pos];
    return t?.kind === 'word' ? t.text.toLowerCase() : undefined;
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) throw invalid(`The filter nests deeper than ${this.maxDepth} levels.`);
  }

  private parseOr(): Filter {
    let left = this.parseAnd();
    while (this.peekWord() === 'or') {
      this.pos++;
      left = { op: 'or', left, right: this.parseAnd() };
    }
    return left;
  }

  private parseAnd(): Filter {
    let left = this.parseUnary();
    while (this.peekWord() === 'and') {
      this.pos++;
      left = { op: 'and', left, right: this.parseUnary() };
    }
    return left;
  }

  private parseUnary(): Filter {
    const token = this.tokens[this.pos];
    if (!token) throw invalid('The filter ends too early.');
    if (token.kind === 'word' && token.text.toLowerCase() === 'not') {
      const next = this.tokens[this.pos + 1];
      if (next?.kind === 'punct' && next.text === '(') {
        this.pos++;
        return { op: 'not', filter: this.parseGroup() };
      }
    }
    if (token.kind === 'punct' && token.text === '(') return this.parseGroup();
    return this.parseAttributeExpression();
  }

  private parseGroup(): Filter {
    this.expectPunct('(');
    this.enter();
    const inner = this.parseOr();
    this.depth--;
    this.expectPunct(')');
    return inner;
  }

  private expectPunct(text: '(' | ')' | '[' | ']'): void {
    const token = this.tokens[this.pos];
    if (token?.kind !== 'punct' || token.text !== text) {
      throw invalid(`Expected '${text}'${token ? ` at position ${token.at}` : ' at the end'}.`);
    }
    this.pos++;
  }

  private parseAttributeExpression(): Filter {
    const token = this.tokens[this.pos];
    if (token?.kind !== 'word') throw invalid(`Expected an attribute path${token ? ` at position ${token.at}` : ''}.`);
    this.pos++;
    const next = this.tokens[this.pos];
    if (next?.kind === 'punct' && next.text === '[') {
      return this.parseValuePath(parseAttributePath(token.text));
    }
    return this.parseComparison(parseAttributePath(token.text));
  }

  private parseValuePath(path: AttributePath): Filter {
    if (path.subAttribute !== undefined) throw invalid('A value filter applies to a multi-valued attribute, not a sub-attribute.');
    this.expectPunct('[');
    this.enter();
    const filter = this.parseOr();
    this.depth--;
    this.expectPunct(']');
    assertNoValuePath(filter);
    const after = this.tokens[this.pos];
    // `emails[type eq "work"].value eq "x"`: the trailing comparison applies to the same value.
    if (after?.kind === 'word' && after.text.startsWith('.')) {
      this.pos++;
      const sub = parseAttributePath(after.text.slice(1));
      if (sub.subAttribute !== undefined || sub.schema !== undefined) throw invalid(`Invalid sub-attribute '${after.text}'.`);
      const trailing = this.parseComparison({ attribute: sub.attribute });
      return { op: 'valuePath', path, filter: { op: 'and', left: filter, right: trailing } };
    }
    return { op: 'valuePath', path, filter };
  }

  private parseComparison(path: AttributePath): Filter {
    const opToken = this.tokens[this.pos];
    const op = opToken?.kind === 'word' ? opToken.text.toLowerCase() : undefined;
    if (op === 'pr') {
      this.pos++;
      return { op: 'pr', path };
    }
    if (!op || !COMPARE_OPERATORS.has(op)) {
      throw invalid(`Expected an operator after '${formatPath(path)}'.`);
    }
    this.pos++;
    return { op: op as CompareOperator, path, value: this.parseValue() };
  }

  private parseValue(): CompareValue {
    const token = this.tokens[this.pos];
    if (!token) throw invalid('Expected a value at the end of the filter.');
    this.pos++;
    if (token.kind === 'string') {
      // The one text rule of every input string (input-limits.ts): PostgreSQL text cannot hold U+0000, and an
      // unpaired surrogate has no UTF-8 form; refuse rather than fail in the database or match U+FFFD.
      const problem = textProblem(token.value);
      if (problem !== undefined) throw invalid(`The string at position ${token.at} ${problem}.`);
      return token.value;
    }
    if (token.kind === 'number') return token.value;
    if (token.kind === 'word') {
      const word = token.text.toLowerCase();
      if (word === 'true') return true;
      if (word === 'false') return false;
      if (word === 'null') return null;
    }
    throw invalid(`Expected a string, number, boolean or null at position ${token.at}.`);
  }
}

function assertNoValuePath(filter: Filter): void {
  switch (filter.op) {
    case 'and':
    case 'or':
      assertNoValuePath(filter.left);
      assertNoValuePath(filter.right);
      return;
    case 'not':
      assertNoValuePath(filter.filter);
      return;
    case 'valuePath':
      throw invalid('Value filters cannot be nested.');
    default:
      if (filter.path.subAttribute !== undefined || filter.path.schema !== undefined) {
        throw invalid('Inside a value filter, name sub-attributes without a prefix.');
      }
  }
}

/** Renders an attribute path back to its text form. */
export function formatPath(path: AttributePath): string {
  const base = path.subAttribute ? `${path.attribute}.${path.subAttribute}` : path.attribute;
  return path.schema ? `${path.schema}:${base}` : base;
}

/**
 * Parses a SCIM filter (RFC 7644 §3.4.2.2) into an AST.
 * Throws `INVALID_FILTER` on any syntax error or when a limit is exceeded.
 *
 * @example
 * parseScimFilter('emails[type eq "work" and value co "@example.com"] or not (active eq false)')
 */
export function parseScimFilter(text: string, limits: FilterLimits = DEFAULT_LIMITS): Filter {
  if (text.length > limits.maxLength) throw invalid(`The filter is longer than ${limits.maxLength} characters.`);
  return new Parser(tokenize(text), limits.maxDepth).parse();
}
