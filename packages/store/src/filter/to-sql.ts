import {
  type AttributeDefinition,
  type AttributePath,
  type CompareValue,
  type Filter,
  formatPath,
  MeridianError,
  type ResourceKind,
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
}

const COLUMNS: Record<ResourceKind, Record<string, Operand>> = {
  User: {
    id: { expr: 'r.id::text', kind: 'string', caseExact: true },
    username: { expr: 'r.user_name', kind: 'string', caseExact: false },
    externalid: { expr: 'r.external_id', kind: 'string', caseExact: true },
    active: { expr: 'r.active', kind: 'boolean', caseExact: true },
  },
  Group: {
    id: { expr: 'r.id::text', kind: 'string', caseExact: true },
    displayname: { expr: 'r.display_name', kind: 'string', caseExact: false },
    externalid: { expr: 'r.external_id', kind: 'string', caseExact: true },
  },
};

const META: Record<string, Operand> = {
  created: { expr: 'r.created_at', kind: 'dateTime', caseExact: true },
  lastmodified: { expr: 'r.updated_at', kind: 'dateTime', caseExact: true },
};

function invalid(message: string): MeridianError {
  return new MeridianError('INVALID_FILTER', message, { field: 'filter' });
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

function sqlLiteralKey(key: string): string {
  if (!/^[A-Za-z0-9_$:.-]+$/.test(key)) throw invalid(`Invalid attribute name '${key}'.`);
  return key;
}

function jsonText(base: string, keys: string[]): string {
  return `(${base} #>> '{${keys
    .map(sqlLiteralKey)
    .map((k) => `"${k}"`)
    .join(',')}}')`;
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

function findDef(list: AttributeDefinition[], name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return list.find((d) => d.name.toLowerCase() === lower);
}

type LeafFilter = Exclude<Filter, { op: 'and' | 'or' | 'not' | 'valuePath' }>;

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

/** Translates SCIM filters over one resource kind into SQL on the table aliased `r`. */
class FilterTranslator {
  private readonly params: unknown[] = [];

  constructor(private readonly kind: ResourceKind) {}

  translate(filter: Filter): SqlFragment {
    const sql = this.node(filter);
    return { sql, params: this.params };
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
        return this.attribute(filter.path, (operand) => this.compare(operand, filter.op, filter.value));
    }
  }

  /** Resolves a path to an operand and builds the condition; multi-valued attributes match when any value does. */
  private attribute(path: AttributePath, condition: (operand: Operand) => string): string {
    const top = path.attribute.toLowerCase();
    if (path.schema === undefined || path.schema.toLowerCase() === resourceShapes[this.kind].core.id.toLowerCase()) {
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
    }
    const { def, keys } = this.resolve(path);
    if (def.multiValued) {
      const sub = def.subAttributes ? findDef(def.subAttributes, path.subAttribute ?? 'value') : undefined;
      const inner: Operand = sub
        ? { expr: typed(`(e.value ->> '${sqlLiteralKey(sub.name)}')`, valueKind(sub)), kind: valueKind(sub), caseExact: sub.caseExact }
        : { expr: typed("(e.value #>> '{}')", valueKind(def)), kind: valueKind(def), caseExact: def.caseExact };
      if (!sub && path.subAttribute !== undefined) throw invalid(`Unknown attribute '${formatPath(path)}'.`);
      return `exists (select 1 from jsonb_array_elements(coalesce(r.attributes #> '{${keys.map((k) => `"${k}"`).join(',')}}', '[]'::jsonb)) e where ${condition(inner)})`;
    }
    const leaf = path.subAttribute !== undefined && def.subAttributes ? findDef(def.subAttributes, path.subAttribute) : def;
    if (!leaf || (path.subAttribute !== undefined && !def.subAttributes)) throw invalid(`Unknown attribute '${formatPath(path)}'.`);
    if (leaf.type === 'complex') throw invalid(`Filter on a sub-attribute of '${formatPath(path)}'.`);
    const allKeys = leaf === def ? keys : [...keys, leaf.name];
    const kind = valueKind(leaf);
    return condition({ expr: typed(jsonText('r.attributes', allKeys), kind), kind, caseExact: leaf.caseExact });
  }

  private resolve(path: AttributePath): { def: AttributeDefinition; keys: string[] } {
    const shape = resourceShapes[this.kind];
    if (path.schema !== undefined && path.schema.toLowerCase() !== shape.core.id.toLowerCase()) {
      const ext = shape.extensions.find((s) => s.id.toLowerCase() === path.schema?.toLowerCase());
      const def = ext ? findDef(ext.attributes, path.attribute) : undefined;
      if (!ext || !def) throw invalid(`Unknown attribute '${formatPath(path)}'.`);
      return { def, keys: [ext.id, def.name] };
    }
    const def = findDef(shape.core.attributes, path.attribute);
    if (!def || def.returned === 'never') throw invalid(`Unknown attribute '${formatPath(path)}'.`);
    return { def, keys: [def.name] };
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
    const { def, keys } = this.resolve(path);
    if (def.type !== 'complex' || !def.subAttributes) throw invalid(`'${formatPath(path)}' has no sub-attributes to filter on.`);
    const subs = def.subAttributes;
    const translateInner = (f: Filter): string =>
      walkBoolean(f, (leaf) => {
        const sub = findDef(subs, leaf.path.attribute);
        if (!sub) throw invalid(`Unknown attribute '${formatPath(path)}.${leaf.path.attribute}'.`);
        const kind = valueKind(sub);
        const operand: Operand = { expr: typed(`(e.value ->> '${sqlLiteralKey(sub.name)}')`, kind), kind, caseExact: sub.caseExact };
        return leaf.op === 'pr' ? presence(operand) : this.compare(operand, leaf.op, leaf.value);
      });
    const base = def.multiValued
      ? `jsonb_array_elements(coalesce(r.attributes #> '{${keys.map((k) => `"${k}"`).join(',')}}', '[]'::jsonb))`
      : `(select r.attributes #> '{${keys.map((k) => `"${k}"`).join(',')}}' as value)`;
    return `exists (select 1 from ${base} e where ${translateInner(inner)})`;
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

  private compare(operand: Operand, op: Exclude<Filter['op'], 'and' | 'or' | 'not' | 'pr' | 'valuePath'>, value: CompareValue): string {
    if (value === null) {
      if (op === 'eq') return presence(operand).replace(/^\(/, '(not ');
      if (op === 'ne') return presence(operand);
      throw invalid(`'${op}' cannot compare with null.`);
    }
    const bind = (v: unknown): string => {
      this.params.push(v);
      return '?';
    };
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

function presence(operand: Operand): string {
  return operand.kind === 'string' ? `(coalesce(${operand.expr}, '') <> '')` : `(${operand.expr} is not null)`;
}

/**
 * Translates a parsed SCIM filter into a SQL condition on the resource table
 * aliased `r`. Every value is bound as a parameter; attribute names are checked
 * against the schema, so nothing from the request reaches the SQL text.
 */
export function filterToSql(kind: ResourceKind, filter: Filter): SqlFragment {
  return new FilterTranslator(kind).translate(filter);
}
