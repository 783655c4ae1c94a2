import { MeridianError } from '../errors/meridian-error.js';
import type { ResourceWrite } from '../ports/directory.js';
import type { GroupMember } from '../scim/resource.js';
import { type JsonObject, parseResourceInput } from '../scim/resource-input.js';
import type { ResourceKind, ResourceShape } from '../scim/resource-types.js';

// The tenant transfer file (issue 19, draft-ietf-scim-use-cases §3.2): NDJSON, one record a line, in this order:
// header, extensions, policy, Users, Groups, trailer. Users and Groups are SCIM representations exactly as the
// SCIM API renders them (RFC 7643 §3.1), so a file is readable by anything that reads SCIM.

/** The `format` of a header. */
export const TRANSFER_FORMAT = 'meridian-tenant-export';
/** The format version this hub writes and reads. */
export const TRANSFER_VERSION = 1;

/** How many of each part a file holds (the header's when known, the trailer's always). */
export interface TransferCounts {
  extensions: number;
  users: number;
  groups: number;
  /** Membership rows: the sum of the groups' `members`. */
  memberships: number;
  /** Users with a sealed password hash. */
  passwords: number;
}

/** How the password hashes are sealed: opaque here, read by the store's sealing (`algorithm`, `keyId`, ...). */
export type TransferSealing = JsonObject & { algorithm: string; keyId: string };

/** The first line. */
export interface TransferHeader {
  type: 'header';
  format: typeof TRANSFER_FORMAT;
  version: typeof TRANSFER_VERSION;
  /** The exporting hub's public URL. */
  sourceHub: string;
  tenant: { id: string; slug: string; name: string };
  exportedAt: string;
  counts?: TransferCounts;
  /** Present when the file carries password hashes, sealed for one receiving hub. */
  sealing?: TransferSealing;
}

/** A schema extension the tenant declared (RFC 7643 §3.3), as `meridian schema` takes it. */
export interface ExtensionRecord {
  type: 'extension';
  definition: JsonObject;
}

/** The tenant's self-service policy. */
export interface PolicyRecord {
  type: 'policy';
  editableAttributes: string[];
}

/** One User or Group as the SCIM API renders it, with its argon2id hash sealed for the receiving hub when exported. */
export interface ResourceRecord {
  type: ResourceKind;
  resource: JsonObject;
  sealedPasswordHash?: string;
}

/** The last line: counts and the SHA-256 (hex) of every line before it, newlines included. */
export interface TransferTrailer {
  type: 'trailer';
  counts: TransferCounts;
  sha256: string;
}

/** One line of a transfer file. */
export type TenantFileRecord = TransferHeader | ExtensionRecord | PolicyRecord | ResourceRecord | TransferTrailer;

/** A resource of a file, ready to insert with its own id, version and times. */
export interface ImportedResource {
  kind: ResourceKind;
  id: string;
  version: number;
  created: Date;
  lastModified: Date;
  write: ResourceWrite;
  /** A group's members, written after every resource exists. */
  members: GroupMember[];
  sealedPasswordHash?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ETAG = /^W\/"([1-9]\d{0,9})"$/;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(line: number, message: string): MeridianError {
  return new MeridianError('INVALID_INPUT', `Line ${line}: ${message}`, { field: 'in' });
}

function countsOf(value: unknown, line: number): TransferCounts {
  if (!isObject(value)) throw bad(line, "'counts' must be an object.");
  const counts = {} as TransferCounts;
  for (const key of ['extensions', 'users', 'groups', 'memberships', 'passwords'] as const) {
    const n = value[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw bad(line, `'counts.${key}' must be a whole number.`);
    counts[key] = n;
  }
  return counts;
}

/**
 * Parses one line of a transfer file and checks its shape (not yet the resource's attributes: that needs the
 * tenant's schemas, {@link importedResourceOf}). `line` is 1-based, for the message.
 */
export function parseTransferRecord(text: string, line: number): TenantFileRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad(line, 'not a JSON object.');
  }
  if (!isObject(value)) throw bad(line, 'not a JSON object.');
  switch (value.type) {
    case 'header': {
      if (value.format !== TRANSFER_FORMAT || value.version !== TRANSFER_VERSION) {
        throw bad(line, `not a ${TRANSFER_FORMAT} file of version ${TRANSFER_VERSION}.`);
      }
      const tenant = value.tenant;
      if (!isObject(tenant) || typeof tenant.slug !== 'string' || typeof tenant.id !== 'string' || typeof tenant.name !== 'string') {
        throw bad(line, "'tenant' must name the exported tenant's id, slug and name.");
      }
      if (typeof value.sourceHub !== 'string' || typeof value.exportedAt !== 'string') {
        throw bad(line, "'sourceHub' and 'exportedAt' are required.");
      }
      const sealing = value.sealing;
      if (sealing !== undefined && !(isObject(sealing) && typeof sealing.algorithm === 'string' && typeof sealing.keyId === 'string')) {
        throw bad(line, "'sealing' must name its algorithm and key id.");
      }
      return {
        type: 'header',
        format: TRANSFER_FORMAT,
        version: TRANSFER_VERSION,
        sourceHub: value.sourceHub,
        tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name },
        exportedAt: value.exportedAt,
        ...(value.counts !== undefined ? { counts: countsOf(value.counts, line) } : {}),
        ...(sealing !== undefined ? { sealing: sealing as TransferSealing } : {}),
      };
    }
    case 'extension':
      if (!isObject(value.definition)) throw bad(line, "'definition' must be an object.");
      return { type: 'extension', definition: value.definition };
    case 'policy':
      if (!Array.isArray(value.editableAttributes) || !value.editableAttributes.every((a) => typeof a === 'string')) {
        throw bad(line, "'editableAttributes' must be a list of attribute paths.");
      }
      return { type: 'policy', editableAttributes: value.editableAttributes as string[] };
    case 'User':
    case 'Group': {
      if (!isObject(value.resource)) throw bad(line, "'resource' must be a SCIM resource.");
      const sealed = value.sealedPasswordHash;
      if (sealed !== undefined && (value.type !== 'User' || typeof sealed !== 'string')) {
        throw bad(line, "'sealedPasswordHash' is a string, on Users only.");
      }
      return { type: value.type, resource: value.resource, ...(typeof sealed === 'string' ? { sealedPasswordHash: sealed } : {}) };
    }
    case 'trailer':
      if (typeof value.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(value.sha256)) throw bad(line, "'sha256' must be 64 hex digits.");
      return { type: 'trailer', counts: countsOf(value.counts, line), sha256: value.sha256 };
    default:
      throw bad(line, `unknown record type '${String(value.type)}'.`);
  }
}

/** Where each record may appear: the order the export writes, so an import needs one pass per phase. */
const PHASE: Record<TenantFileRecord['type'], number> = { header: 0, extension: 1, policy: 2, User: 3, Group: 4, trailer: 5 };

/**
 * Checks that `record` may follow a record of type `previous` (undefined at the start): one header first,
 * extensions, at most one policy, Users, Groups, one trailer last. INVALID_INPUT otherwise.
 */
export function checkRecordOrder(previous: TenantFileRecord['type'] | undefined, record: TenantFileRecord, line: number): void {
  if (previous === undefined) {
    if (record.type !== 'header') throw bad(line, 'a transfer file starts with its header.');
    return;
  }
  const from = PHASE[previous];
  const to = PHASE[record.type];
  if (previous === 'trailer') throw bad(line, 'nothing may follow the trailer.');
  if (to < from || (to === from && (record.type === 'header' || record.type === 'policy'))) {
    throw bad(line, `a '${record.type}' record cannot follow a '${previous}' record.`);
  }
}

/** The numeric version of a weak ETag `W/"n"` (RFC 7644 §3.14). */
function versionOf(meta: JsonObject, line: number): number {
  const match = typeof meta.version === 'string' ? ETAG.exec(meta.version) : null;
  if (!match?.[1]) throw bad(line, '\'meta.version\' must be a weak ETag W/"n".');
  return Number(match[1]);
}

function instantOf(meta: JsonObject, key: 'created' | 'lastModified', line: number): Date {
  const text = meta[key];
  const date = typeof text === 'string' ? new Date(text) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw bad(line, `'meta.${key}' must be a date-time.`);
  return date;
}

function membersOf(resource: JsonObject, line: number): GroupMember[] {
  const raw = resource.members ?? [];
  if (!Array.isArray(raw)) throw bad(line, "'members' must be a list.");
  return raw.map((m, i) => {
    if (!isObject(m) || typeof m.value !== 'string' || !UUID.test(m.value) || (m.type !== 'User' && m.type !== 'Group')) {
      throw bad(line, `members[${i}] must carry a resource id and its type (User or Group).`);
    }
    return { value: m.value, type: m.type };
  });
}

/**
 * A resource record as the values to insert: the SCIM body is read as a client's body is (the tenant's schemas,
 * RFC 7643 §2 rules) after the server's own attributes are taken off: `id`, `meta` (version and times kept), a
 * User's computed `groups` and a Group's `members` (written apart, once every resource exists).
 */
export function importedResourceOf(shape: ResourceShape, record: ResourceRecord, line: number): ImportedResource {
  const { resource } = record;
  const id = resource.id;
  if (typeof id !== 'string' || !UUID.test(id)) throw bad(line, "'id' must be a resource id.");
  const meta = resource.meta;
  if (!isObject(meta) || meta.resourceType !== record.type) throw bad(line, `'meta.resourceType' must be '${record.type}'.`);
  const members = record.type === 'Group' ? membersOf(resource, line) : [];
  const body: JsonObject = { ...resource };
  for (const key of ['id', 'meta', 'groups', 'members']) delete body[key];
  let input: ReturnType<typeof parseResourceInput>;
  try {
    input = parseResourceInput(shape, body);
  } catch (error) {
    throw bad(line, error instanceof Error ? error.message : String(error));
  }
  if (input.password !== undefined) throw bad(line, 'a clear password is never part of a transfer file.');
  const attributes = { ...input.attributes };
  delete attributes.members;
  return {
    kind: record.type,
    id,
    version: versionOf(meta, line),
    created: instantOf(meta, 'created', line),
    lastModified: instantOf(meta, 'lastModified', line),
    write: { externalId: input.externalId, attributes, extensionSchemas: input.extensionSchemas },
    members,
    ...(record.sealedPasswordHash !== undefined ? { sealedPasswordHash: record.sealedPasswordHash } : {}),
  };
}

/** What an import does with a resource of the file, given the version stored under its id (if any). */
export type ImportAction = 'create' | 'skip';

/**
 * Resumable imports: a resource already there with the same id and version was imported before and is skipped;
 * one with another version was changed since (or is another tenant's data) and is a CONFLICT, never overwritten.
 */
export function importActionOf(resource: Pick<ImportedResource, 'kind' | 'id' | 'version'>, stored: number | undefined): ImportAction {
  if (stored === undefined) return 'create';
  if (stored === resource.version) return 'skip';
  throw new MeridianError(
    'CONFLICT',
    `${resource.kind} ${resource.id} exists at version ${stored}, the file has version ${resource.version}; it is not overwritten.`,
    { field: 'in' },
  );
}

/** What the tenant holds after an import, to compare with the trailer. */
export type StoredCounts = Omit<TransferCounts, 'extensions'>;

/**
 * The differences between a trailer's counts and what the tenant holds after the import (an empty list when they
 * agree). Extensions are left out: a receiving tenant may have declared more of its own.
 */
export function countMismatches(expected: TransferCounts, stored: StoredCounts): string[] {
  const keys = ['users', 'groups', 'memberships', 'passwords'] as const;
  return keys.filter((k) => expected[k] !== stored[k]).map((k) => `${k}: file ${expected[k]}, tenant ${stored[k]}`);
}
