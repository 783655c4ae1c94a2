import { MeridianError } from '../errors/meridian-error.js';
import type { AttributeType } from './schema-types.js';
import { SCHEMA } from './schemas.js';

/**
 * What the hub accepts in a string, and how long it may be (issue 12). One
 * rule for every string that reaches it, whatever the path (SCIM, Bulk,
 * /Me, GraphQL arguments and variables, connectors' inbound data through
 * `parseResourceInput`); the limits are published in docs/scim.md ("Limits")
 * and ADR 0016 explains them.
 *
 * Lengths count characters as Unicode code points. The bounds on indexed
 * attributes keep every index entry below PostgreSQL's btree limit (2,704
 * bytes) even for 4-byte characters, lower-cased (ADR 0016).
 */

/** The length bound of one attribute. */
export interface AttributeLimit {
  /** The schema URN the attribute belongs to; undefined for `externalId`, common to every resource (RFC 7643 §3.1). */
  schema: string | undefined;
  /** The attribute, a sub-attribute after a dot (`name.familyName`, `emails.value`). */
  attribute: string;
  /** The most characters (Unicode code points) a value may have. */
  maxLength: number;
}

const limit = (schema: string | undefined, attribute: string, maxLength: number): AttributeLimit => ({ schema, attribute, maxLength });

/** Identifiers and names: unique or btree-indexed in the tenant tables or the global directory, or correlation keys. */
const NAME = 256;
/** Language tags, locales and time zones. */
const TAG = 64;
/** URLs. */
const URL = 2048;

/** The attributes with a bound of their own; every other string takes {@link DEFAULT_MAX_LENGTH} of its type. */
export const ATTRIBUTE_LIMITS: readonly AttributeLimit[] = [
  limit(undefined, 'externalId', 512),
  limit(SCHEMA.user, 'userName', NAME),
  limit(SCHEMA.user, 'displayName', NAME),
  limit(SCHEMA.user, 'nickName', NAME),
  limit(SCHEMA.user, 'name.formatted', NAME),
  limit(SCHEMA.user, 'name.familyName', NAME),
  limit(SCHEMA.user, 'name.givenName', NAME),
  limit(SCHEMA.user, 'name.middleName', NAME),
  limit(SCHEMA.user, 'name.honorificPrefix', NAME),
  limit(SCHEMA.user, 'name.honorificSuffix', NAME),
  limit(SCHEMA.user, 'title', NAME),
  limit(SCHEMA.user, 'userType', NAME),
  limit(SCHEMA.user, 'preferredLanguage', TAG),
  limit(SCHEMA.user, 'locale', TAG),
  limit(SCHEMA.user, 'timezone', TAG),
  limit(SCHEMA.user, 'profileUrl', URL),
  limit(SCHEMA.user, 'password', NAME),
  limit(SCHEMA.user, 'emails.value', NAME),
  limit(SCHEMA.user, 'phoneNumbers.value', TAG),
  limit(SCHEMA.user, 'ims.value', NAME),
  limit(SCHEMA.user, 'photos.value', URL),
  limit(SCHEMA.enterpriseUser, 'employeeNumber', NAME),
  limit(SCHEMA.enterpriseUser, 'costCenter', NAME),
  limit(SCHEMA.enterpriseUser, 'organization', NAME),
  limit(SCHEMA.enterpriseUser, 'division', NAME),
  limit(SCHEMA.enterpriseUser, 'department', NAME),
  limit(SCHEMA.enterpriseUser, 'manager.value', NAME),
  limit(SCHEMA.group, 'displayName', NAME),
  limit(SCHEMA.group, 'members.value', NAME),
];

/**
 * The bound of any string attribute not in {@link ATTRIBUTE_LIMITS}, by type:
 * the other core attributes and sub-attributes, and every attribute of a
 * tenant's own schema extensions.
 */
export const DEFAULT_MAX_LENGTH: Readonly<Record<'string' | 'reference' | 'binary', number>> = {
  string: 1024,
  reference: URL,
  binary: 16_384,
};

/** The most values one multi-valued attribute may carry; Group `members` are bounded by the body size instead. */
export const MAX_VALUES = 100;

const BY_KEY = new Map(ATTRIBUTE_LIMITS.map((l) => [keyOf(l.schema, l.attribute), l.maxLength]));

function keyOf(schema: string | undefined, attribute: string): string {
  return `${(schema ?? '').toLowerCase()}|${attribute.toLowerCase()}`;
}

/**
 * The most characters a value of `attribute` (canonical path, sub-attribute
 * after a dot) of `schema` may have; `schema` undefined for `externalId`.
 *
 * @example
 * maxLengthOf(SCHEMA.user, 'name.familyName', 'string'); // 256
 * maxLengthOf('urn:example:acme:2.0:User', 'badge', 'string'); // 1024
 */
export function maxLengthOf(schema: string | undefined, attribute: string, type: AttributeType = 'string'): number {
  return (
    BY_KEY.get(keyOf(schema, attribute)) ??
    (type === 'reference' || type === 'binary' ? DEFAULT_MAX_LENGTH[type] : DEFAULT_MAX_LENGTH.string)
  );
}

/** The most values a multi-valued attribute of `schema` may carry; unbounded here for Group `members`. */
export function maxValuesOf(schema: string, attribute: string): number {
  return schema.toLowerCase() === SCHEMA.group.toLowerCase() && attribute.toLowerCase() === 'members'
    ? Number.POSITIVE_INFINITY
    : MAX_VALUES;
}

/**
 * What is wrong with a string, as the end of a sentence naming it
 * ("Attribute 'x' …", "Argument 'y' …"), or undefined when it is fine:
 *
 * - U+0000: PostgreSQL text and jsonb cannot hold it.
 * - An unpaired UTF-16 surrogate (`"\uD800"` in JSON): it has no UTF-8 form;
 *   text columns would store U+FFFD instead, jsonb refuses it.
 * - More than `maxLength` characters (Unicode code points).
 */
export function textProblem(value: string, maxLength = Number.POSITIVE_INFINITY): string | undefined {
  let characters = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    characters++;
    if (unit === 0) return 'must not contain the NUL character (U+0000)';
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = i + 1 < value.length ? value.charCodeAt(i + 1) : 0;
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    const hex = unit.toString(16).toUpperCase();
    return `must be well-formed Unicode: it has an unpaired surrogate (U+${hex}) at character ${characters}`;
  }
  if (characters > maxLength) return `must be at most ${maxLength} characters long (it has ${characters})`;
  return undefined;
}

/** Throws INVALID_INPUT naming `field` when {@link textProblem} finds something wrong with `value`. */
export function assertText(value: string, field: string, maxLength?: number, noun = 'Attribute'): void {
  const problem = textProblem(value, maxLength);
  if (problem !== undefined) throw new MeridianError('INVALID_INPUT', `${noun} '${field}' ${problem}.`, { field });
}
