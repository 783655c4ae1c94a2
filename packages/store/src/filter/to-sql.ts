import {
  type AttributeDefinition,
  type AttributePath,
  type CompareOperator,
  type CompareValue,
  type Filter,
  formatPath,
  MeridianError,
  type ResourceKind,
  type ResourceShape,
  resourceShapes,
} from '@meridian/core';

/** A SQL fragment with `?` placeholders and its parameters. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

type ValueKind = 'string' | 'boolean' | 'number' | 'dateTime';

/** Where an attribute lives: a column, or a JSON expression, and how to compare it. */
interface Operand {
  expr: string;
  kind: ValueKind;
  caseExact: boolean;
  /**
   * A stored lower-cased copy of a case-insensitive value (migration
   * 20261126500000_search_keys). `eq` and `sw` compare it with leakproof
   * operators, so they stay index scans under row-level security.
   */
  searchKey?: string;
}

const COLUMNS: Record<ResourceKind, Record<string, Operand>> = {
  User: {
    id: { expr: 'r.id::text', kind: 'string', caseExact: true },
    username: { expr: 'r.user_name', kind: 'string', caseExact: false, searchKey: 'r.user_name_key' },
    externalid: { expr: 'r.external_id', kind: 'string', caseExact: true },
    active: { expr: 'r.active', kind: 'boolean', caseExact: true },
  },
  Group: {
    id: { expr: 'r.id::text', kind: 'string', caseExact: true },
    displayname: { expr: 'r.display_name', kind: 'string', caseExact: false, searchKey: 'r.display_name_key' },
    externalid: { expr: 'r.external_id', kind: 'string', caseExact: true },
  },
};

const META: Record<string, Operand> = {
  created: { expr: 'r.created_at', kind: 'dateTime', caseExact: true },
  lastmodified: { expr: 'r.updated_at', kind: 'dateTime', caseExact: true },
};

/**
 * Multi-valued attributes whose `value`s carry a trigram index (migration
 * 20261126100000_search_indexes). The text must be the index expression
 * exactly, or PostgreSQL cannot use the index.
 */
const TRIGRAM_VALUES: Record<ResourceKind, Record<string, string>> = {
  User: { emails: `lower((jsonb_path_query_array(r.attributes, '$.emails[*].value'))::text)` },
  Group: {},
};

type Fail = (message: string) => MeridianError;

function invalid(message: string): MeridianError {
  return new MeridianError('INVALID_FILTER', message, { field: 'filter' });
}

function invalidSort(message: string): MeridianError {
  return new MeridianError('INVALID_INPUT', message, { field: 'sortBy' });
}

function valueKind(def: AttributeDefinition): ValueKind {
  switch (def.type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'decimal':
      return 'number';
    case 'dateTime':
      return 'dateTime';
    default:
      return 'string';
  }
}

// Attribute names come from the schema, never from the request, but they are written into SQL text.
function sqlLiteralKey(key: string, fail: Fail = invalid): string {
  if (!/^[A-Za-z0-9_$:.-]+$/.test(key)) throw fail(`Invalid attribute name '${key}'.`);
  return key;
}

/** A text[] literal for `#>` / `#>>`: `'{"name","familyName"}'`. */
function jsonKeys(keys: (string | number)[], fail: Fail = invalid): string {
  return `'{${keys.map((k) => (typeof k === 'number' ? String(k) : `"${sqlLiteralKey(k, fail)}"`)).join(',')}}'`;
}

function jsonText(base: string, keys: string[], fail: Fail = invalid): string {
  return `(${base} #>> ${jsonKeys(keys, fail)})`;
}

function typed(text: string, kind: ValueKind): string {
  switch (kind) {
    case 'boolean':
      return `(${text})::boolean`;
    case 'number':
      return `(${text})::numeric`;
    case 'dateTime':
      return `(${text})::timestamptz`;
    default:
      return text;
  }
}

/**
 * The definition of an attribute a client may filter or sort on. Values that are never returned
 * (RFC 7643 §7 `returned: never`, `writeOnly`) count as unknown, or a filter could probe them.
 */
function findDef(list: AttributeDefinition[], name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return list.find((d) => d.name.toLowerCase() === lower && d.returned !== 'never' && d.mutability !== 'writeOnly');
}

function isCorePath(shape: ResourceShape, path: AttributePath): boolean {
  return path.schema === undefined || path.schema.toLowerCase() === shape.core.id.toLowerCase();
}

/** Finds the definition of a path's top-level attribute and the JSON keys it is stored under. */
function resolveAttribute(shape: ResourceShape, path: AttributePath, fail: Fail): { def: AttributeDefinition; keys: string[] } {
  if (!isCorePath(shape, path)) {
    const ext = shape.extensions.find((s) => s.id.toLowerCase() === path.schema?.toLowerCase());
    const def = ext ? findDef(ext.attributes, path.attribute) : undefined;
    if (!ext || !def) throw fail(`Unknown attribute '${formatPath(path)}'.`);
    return { def, keys: [ext.id, def.name] };
  }
  const def = findDef(shape.core.attributes, path.attribute);
  if (def) return { def, keys: [def.name] };
  // Clients write extension attributes unqualified (Entra ID: `manager eq "…"`): a name that
  // exactly one extension defines resolves to it.
  const owners = path.schema === undefined ? shape.extensions.filter((ext) => findDef(ext.attributes, path.attribute)) : [];
  const owner = owners.length === 1 ? owners[0] : undefined;
  const extDef = owner ? findDef(owner.attributes, path.attribute) : undefined;
  if (!owner || !extDef) throw fail(`Unknown attribute '${formatPath(path)}'.`);
  return { def: extDef, keys: [owner.id, extDef.name] };
}

type LeafFilter = Exclude<Filter, { op: 'and' | 'or' | 'not' | 'valuePath' }>;
type Comparison = Extract<Filter, { op: CompareOperator }>;

/** Translates the boolean structure of a filter; `leaf` translates comparisons and presence tests. */
function walkBoolean(filter: Filter, leaf: (f: LeafFilter) => string): string {
  switch (filter.op) {
    case 'and':
    case 'or':
      return `(${walkBoolean(filter.left, leaf)} ${filter.op} ${walkBoolean(filter.right, leaf)})`;
    case 'not':
      return `(not coalesce(${walkBoolean(filter.filter, leaf)}, false))`;
    case 'valuePath':
      throw invalid('Value filters cannot be nested.');
    default:
      return leaf(filter);
  }
}

/** The comparisons a filter cannot be true without: the leaves of its top-level `and` chain. */
function conjuncts(filter: Filter): LeafFilter[] {
  switch (filter.op) {
    case 'and':
      return [...conjuncts(filter.left), ...conjuncts(filter.right)];
    case 'or':
    case 'not':
    case 'valuePath':
      return [];
    default:
      return [filter];
  }
}

/**
 * A LIKE pattern on the JSON text of an array of string values (`["a@x.org", "b@y.org"]`)
 * that every array holding a value matching `op value` also matches; undefined when
 * no such pattern helps. Values that JSON would escape are left to the exact condition.
 */
function jsonArrayPattern(op: CompareOperator, value: CompareValue): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes control characters, so the stored text differs from the value.
  if (typeof value !== 'string' || value === '' || /["\\\u0000-\u001f]/.test(value)) return undefined;
  const escaped = value.replace(/[%_]/g, (c) => `\\${c}`);
  switch (op) {
    case 'eq':
      return `%"${escaped}"%`;
    case 'co':
      return `%${escaped}%`;
    case 'sw':
      return `%"${escaped}%`;
    case 'ew':
      return `%${escaped}"%`;
    default:
      return undefined;
  }
}

/** Translates SCIM filters over one resource kind into SQL on the table aliased `r`. */
class FilterTranslator {
  private readonly params: unknown[] = [];

  constructor(
    private readonly kind: ResourceKind,
    private readonly shape: ResourceShape,
  ) {}

  translate(filter: Filter): SqlFragment {
    const sql = this.node(filter);
    return { sql, params: this.params };
  }

  translateMembers(filter: Filter): SqlFragment {
    const sql = this.memberFilter(filter);
    return { sql, params: this.params };
  }

  private bind(value: unknown): string {
    this.params.push(value);
    return '?';
  }

  private node(filter: Filter): string {
    switch (filter.op) {
      case 'and':
      case 'or':
        return `(${this.node(filter.left)} ${filter.op} ${this.node(filter.right)})`;
      case 'not':
        return `(not coalesce(${this.node(filter.filter)}, false))`;
      case 'valuePath':
        return this.valuePath(filter.path, filter.filter);
      case 'pr':
        return this.attribute(filter.path, (operand) => presence(operand));
      default:
        return this.attribute(filter.path, (operand) => this.compare(operand, filter.op, filter.value), filter);
    }
  }

  /**
   * Resolves a path to an operand and builds the condition; multi-valued attributes
   * match when any value does. `comparison` is the filter itself when it is one,
   * so an indexed pre-filter can be put in front of the exact condition.
   */
  private attribute(path: AttributePath, condition: (operand: Operand) => string, comparison?: Comparison): string {
    const top = path.attribute.toLowerCase();
    if (isCorePath(this.shape, path)) {
      const column = COLUMNS[this.kind][top];
      if (column && path.subAttribute === undefined) return condition(column);
      if (top === 'meta') {
        const meta = path.subAttribute !== undefined ? META[path.subAttribute.toLowerCase()] : undefined;
        if (meta) return condition(meta);
        if (path.subAttribute?.toLowerCase() === 'resourcetype') {
          return condition({ expr: `'${this.kind}'::text`, kind: 'string', caseExact: true });
        }
        throw invalid(`Unsupported attribute '${formatPath(path)}'.`);
      }
      if (this.kind === 'Group' && top === 'members') return this.members(path, condition);
      if (this.kind === 'User' && top === 'groups') throw computedGroups();
    }
    const { def, keys } = resolveAttribute(this.shape, path, invalid);
    if (def.multiValued) {
      const sub = def.subAttributes ? findDef(def.subAttributes, path.subAttribute ?? 'value') : undefined;
      if (!sub && path.subAttribute !== undefined) throw invalid(`Unknown attribute '${formatPath(path)}'.`);
      const inner: Operand = sub
        ? { expr: typed(`(e.value ->> '${sqlLiteralKey(sub.name)}')`, valueKind(sub)), kind: valueKind(sub), caseExact: sub.caseExact }
        : { expr: typed("(e.value #>> '{}')", valueKind(def)), kind: valueKind(def), caseExact: def.caseExact };
      const prefilter = sub?.name === 'value' && comparison ? this.trigramPrefilter(path, [comparison]) : undefined;
      const exact = `exists (select 1 from jsonb_array_elements(coalesce(r.attributes #> ${jsonKeys(keys)}, '[]'::jsonb)) e where ${condition(inner)})`;
      return prefilter ? `(${prefilter} and ${exact})` : exact;
    }
    // A complex attribute named without a sub-attribute stands for its `value` (`manager eq "id"`);
    // one without a `value` can still be tested for presence (`name pr`).
    const implied =
      path.subAttribute === undefined && def.type === 'complex' ? def.subAttributes && findDef(def.subAttributes, 'value') : undefined;
    if (path.subAttribute === undefined && def.type === 'complex' && !implied) {
      return condition({ expr: `nullif(${jsonText('r.attributes', keys)}, '{}')`, kind: 'string', caseExact: true });
    }
    const subName = path.subAttribute ?? implied?.name;
    const leaf = subName !== undefined && def.subAttributes ? findDef(def.subAttributes, subName) : def;
    if (!leaf || (path.subAttribute !== undefined && !def.subAttributes)) throw invalid(`Unknown attribute '${formatPath(path)}'.`);
    if (leaf.type === 'complex') throw invalid(`Filter on a sub-attribute of '${formatPath(path)}'.`);
    const allKeys = leaf === def ? keys : [...keys, leaf.name];
    const kind = valueKind(leaf);
    if (this.kind === 'User' && allKeys.length === 2 && allKeys[0] === 'name' && allKeys[1] === 'familyName') {
      return condition({ expr: typed(jsonText('r.attributes', allKeys), kind), kind, caseExact: false, searchKey: 'r.family_name_key' });
    }
    // Case-insensitive strings compare as lower(...), which is what the expression indexes hold (e.g. name.familyName).
    return condition({ expr: typed(jsonText('r.attributes', allKeys), kind), kind, caseExact: leaf.caseExact });
  }

  /**
   * `emails co "x"` and friends: a LIKE on the trigram-indexed JSON text of all the
   * values lets PostgreSQL find candidate rows with a bitmap index scan; the exact
   * `exists (... jsonb_array_elements ...)` condition still decides. The patterns
   * are bound before the exact condition's values, matching their order in the SQL.
   * `valueTests` are comparisons on the `value` sub-attribute that must all hold.
   */
  private trigramPrefilter(path: AttributePath, valueTests: LeafFilter[]): string | undefined {
    const indexed = isCorePath(this.shape, path) ? TRIGRAM_VALUES[this.kind][path.attribute.toLowerCase()] : undefined;
    if (!indexed) return undefined;
    const patterns = valueTests.flatMap((c) => (c.op === 'pr' ? [] : (jsonArrayPattern(c.op, c.value) ?? [])));
    if (patterns.length === 0) return undefined;
    // The trigram index lives in scim_user_search, read through a SECURITY DEFINER function so that the
    // LIKE is not held behind the row-level security policies (migration 20261126600000_email_search).
    return patterns.map((p) => `r.id in (select meridian_users_with_emails_like(lower(${this.bind(p)})))`).join(' and ');
  }

  private members(path: AttributePath, condition: (operand: Operand) => string): string {
    const sub = (path.subAttribute ?? 'value').toLowerCase();
    const expr = sub === 'value' ? 'm.member_id::text' : sub === 'type' ? 'm.member_type' : undefined;
    if (!expr) throw invalid(`Unsupported attribute '${formatPath(path)}'.`);
    return `exists (select 1 from group_member m where m.group_id = r.id and ${condition({ expr, kind: 'string', caseExact: true })})`;
  }

  private valuePath(path: AttributePath, inner: Filter): string {
    if (this.kind === 'Group' && path.attribute.toLowerCase() === 'members' && path.schema === undefined) {
      return `exists (select 1 from group_member m where m.group_id = r.id and ${this.memberFilter(inner)})`;
    }
    if (this.kind === 'User' && isCorePath(this.shape, path) && path.attribute.toLowerCase() === 'groups') throw computedGroups();
    const { def, keys } = resolveAttribute(this.shape, path, invalid);
    if (def.type !== 'complex' || !def.subAttributes) throw invalid(`'${formatPath(path)}' has no sub-attributes to filter on.`);
    const subs = def.subAttributes;
    const valueTests = conjuncts(inner).filter((leaf) => leaf.path.attribute.toLowerCase() === 'value');
    const prefilter = def.multiValued ? this.trigramPrefilter(path, valueTests) : undefined;
    const translateInner = (f: Filter): string =>
      walkBoolean(f, (leaf) => {
        const sub = findDef(subs, leaf.path.attribute);
        if (!sub) throw invalid(`Unknown attribute '${formatPath(path)}.${leaf.path.attribute}'.`);
        const kind = valueKind(sub);
        const operand: Operand = { expr: typed(`(e.value ->> '${sqlLiteralKey(sub.name)}')`, kind), kind, caseExact: sub.caseExact };
        return leaf.op === 'pr' ? presence(operand) : this.compare(operand, leaf.op, leaf.value);
      });
    const base = def.multiValued
      ? `jsonb_array_elements(coalesce(r.attributes #> ${jsonKeys(keys)}, '[]'::jsonb))`
      : `(select r.attributes #> ${jsonKeys(keys)} as value)`;
    const exact = `exists (select 1 from ${base} e where ${translateInner(inner)})`;
    return prefilter ? `(${prefilter} and ${exact})` : exact;
  }

  private memberFilter(f: Filter): string {
    return walkBoolean(f, (leaf) => {
      const name = leaf.path.attribute.toLowerCase();
      const expr = name === 'value' ? 'm.member_id::text' : name === 'type' ? 'm.member_type' : undefined;
      if (!expr) throw invalid(`Unsupported attribute 'members.${leaf.path.attribute}'.`);
      const operand: Operand = { expr, kind: 'string', caseExact: true };
      return leaf.op === 'pr' ? presence(operand) : this.compare(operand, leaf.op, leaf.value);
    });
  }

  private compare(operand: Operand, op: CompareOperator, value: CompareValue): string {
    if (value === null) {
      if (op === 'eq') return presence(operand).replace(/^\(/, '(not ');
      if (op === 'ne') return presence(operand);
      throw invalid(`'${op}' cannot compare with null.`);
    }
    const bind = (v: unknown): string => this.bind(v);
    switch (operand.kind) {
      case 'boolean':
        if (typeof value !== 'boolean') throw invalid('A boolean attribute compares with true or false.');
        if (op === 'eq') return `(${operand.expr} = ${bind(value)})`;
        if (op === 'ne') return `(${operand.expr} is distinct from ${bind(value)})`;
        throw invalid(`'${op}' is not defined for booleans.`);
      case 'number':
      case 'dateTime': {
        if (operand.kind === 'number' && typeof value !== 'number') throw invalid('A number attribute compares with a number.');
        if (operand.kind === 'dateTime' && (typeof value !== 'string' || Number.isNaN(Date.parse(value)))) {
          throw invalid('A dateTime attribute compares with an ISO 8601 date string.');
        }
        const cast = operand.kind === 'number' ? '::numeric' : '::timestamptz';
        const sqlOp = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' }[op as 'eq'];
        if (!sqlOp) throw invalid(`'${op}' is not defined for ${operand.kind === 'number' ? 'numbers' : 'dates'}.`);
        return `(${operand.expr} ${sqlOp} ${bind(value)}${cast})`;
      }
      default: {
        if (typeof value !== 'string') throw invalid('A string attribute compares with a string.');
        const left = operand.caseExact ? operand.expr : `lower(${operand.expr})`;
        const right = (v: string): string => (operand.caseExact ? bind(v) : `lower(${bind(v)})`);
        const like = (pattern: string): string => `(${left} like ${right(pattern)} escape '\\')`;
        const escaped = value.replace(/[\\%_]/g, (c) => `\\${c}`);
        // lower() of a bound value touches no row, so it does not stop the index under row-level security.
        if (operand.searchKey && op === 'eq') return `(${operand.searchKey} = lower(${bind(value)}))`;
        if (operand.searchKey && op === 'sw') {
          // The range lets the text_pattern_ops index find the prefix; starts_with keeps the result exact.
          const prefix = `lower(${bind(value)})`;
          return `(${operand.searchKey} ~>=~ ${prefix} and ${operand.searchKey} ~<~ (lower(${bind(value)}) || chr(1114111)) and starts_with(${operand.searchKey}, lower(${bind(value)})))`;
        }
        switch (op) {
          case 'eq':
            return `(${left} = ${right(value)})`;
          case 'ne':
            return `(${operand.expr} is null or ${left} <> ${right(value)})`;
          case 'co':
            return like(`%${escaped}%`);
          case 'sw':
            return like(`${escaped}%`);
          case 'ew':
            return like(`%${escaped}`);
          default: {
            const sqlOp = { gt: '>', ge: '>=', lt: '<', le: '<=' }[op];
            return `(${left} ${sqlOp} ${right(value)})`;
          }
        }
      }
    }
  }
}

/**
 * A User's `groups` (RFC 7643 §4.1.2) are computed from group_member, direct and nested, and are not in the
 * stored attributes: a filter on them would silently match nothing, so it is refused.
 */
function computedGroups(): MeridianError {
  return invalid("Users cannot be filtered by 'groups'; filter Groups by 'members.value' instead.");
}

function presence(operand: Operand): string {
  return operand.kind === 'string' ? `(coalesce(${operand.expr}, '') <> '')` : `(${operand.expr} is not null)`;
}

/**
 * Translates a parsed SCIM filter into a SQL condition on the resource table
 * aliased `r`. Every value is bound as a parameter; attribute names are checked
 * against the schema, so nothing from the request reaches the SQL text.
 * `shape` is the tenant's schema shape (core schema and extensions); it
 * defaults to the built-in shape of `kind`.
 */
export function filterToSql(kind: ResourceKind, filter: Filter, shape: ResourceShape = resourceShapes[kind]): SqlFragment {
  return new FilterTranslator(kind, shape).translate(filter);
}

/** An ORDER BY expression on the resource table aliased `r`. */
export interface SortExpression {
  expr: string;
}

// Columns sort as they are stored; `id` sorts as the uuid (the same order as its text).
const SORT_COLUMNS: Record<ResourceKind, Record<string, Operand>> = {
  User: { ...COLUMNS.User, id: { expr: 'r.id', kind: 'string', caseExact: true } },
  Group: { ...COLUMNS.Group, id: { expr: 'r.id', kind: 'string', caseExact: true } },
};

function sortKey(operand: Operand): SortExpression {
  return { expr: operand.kind === 'string' && !operand.caseExact ? `lower(${operand.expr})` : operand.expr };
}

/**
 * The SQL expression to order resources by for SCIM `sortBy` (RFC 7644 §3.4.2.3),
 * on the resource table aliased `r`. Strings sort case-insensitively unless the
 * attribute is caseExact; numbers and dates sort by their type; a multi-valued
 * attribute sorts by its primary value, else its first. Throws `INVALID_INPUT`
 * (field `sortBy`) for an attribute the resource does not have or cannot sort by.
 * The expression holds no `?` and no request text: append it to any query.
 *
 * @example
 * sortToSql('User', parseAttributePath('emails')).expr
 * // the primary email's value, lower-cased
 */
export function sortToSql(kind: ResourceKind, path: AttributePath, shape: ResourceShape = resourceShapes[kind]): SortExpression {
  const top = path.attribute.toLowerCase();
  if (isCorePath(shape, path)) {
    const column = SORT_COLUMNS[kind][top];
    if (column && path.subAttribute === undefined) return sortKey(column);
    if (top === 'meta') {
      const meta = path.subAttribute !== undefined ? META[path.subAttribute.toLowerCase()] : undefined;
      if (!meta) throw invalidSort(`Cannot sort by '${formatPath(path)}'.`);
      return sortKey(meta);
    }
    // Memberships live in group_member, not in the attributes.
    if ((kind === 'Group' && top === 'members') || (kind === 'User' && top === 'groups')) {
      throw invalidSort(`Cannot sort by '${formatPath(path)}'.`);
    }
  }
  const { def, keys } = resolveAttribute(shape, path, invalidSort);
  if (def.multiValued) {
    const list = `jsonb_array_elements(coalesce(r.attributes #> ${jsonKeys(keys, invalidSort)}, '[]'::jsonb)) with ordinality x(v, n)`;
    if (def.type !== 'complex') {
      if (path.subAttribute !== undefined) throw invalidSort(`Unknown attribute '${formatPath(path)}'.`);
      const type = valueKind(def);
      return sortKey({
        expr: typed(`(select x.v #>> '{}' from ${list} order by x.n limit 1)`, type),
        kind: type,
        caseExact: def.caseExact,
      });
    }
    const sub = findDef(def.subAttributes ?? [], path.subAttribute ?? 'value');
    if (!sub || sub.type === 'complex') throw invalidSort(`Cannot sort by '${formatPath(path)}'.`);
    const hasPrimary = (def.subAttributes ?? []).some((s) => s.name === 'primary');
    // RFC 7644 §3.4.2.3: the primary value if any, else the first value.
    const order = hasPrimary ? `((x.v -> 'primary') = 'true'::jsonb) is true desc, x.n` : 'x.n';
    const type = valueKind(sub);
    const value = `(select x.v ->> '${sqlLiteralKey(sub.name, invalidSort)}' from ${list} order by ${order} limit 1)`;
    return sortKey({ expr: typed(value, type), kind: type, caseExact: sub.caseExact });
  }
  const leaf = path.subAttribute === undefined ? def : findDef(def.subAttributes ?? [], path.subAttribute);
  if (!leaf || leaf.type === 'complex') throw invalidSort(`Cannot sort by '${formatPath(path)}'.`);
  const type = valueKind(leaf);
  const text = jsonText('r.attributes', leaf === def ? keys : [...keys, leaf.name], invalidSort);
  return sortKey({ expr: typed(text, type), kind: type, caseExact: leaf.caseExact });
}

/**
 * Translates a filter over group member sub-attributes (`value`, `type`),
 * as in a PATCH path `members[type eq "Group"]`, into a condition on the
 * member table aliased `m`.
 */
export function memberFilterToSql(filter: Filter): SqlFragment {
  return new FilterTranslator('Group', resourceShapes.Group).translateMembers(filter);
}
