import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import {
  checkRecordOrder,
  MeridianError,
  parseTransferRecord,
  type TenantFileRecord,
  type TransferCounts,
  type TransferHeader,
  type TransferTrailer,
} from '@meridian/core';

// Reading and writing a tenant transfer file (docs/migration.md): NDJSON, one record a line, streamed both ways so
// that a tenant is never held in memory; the trailer carries the SHA-256 of every line before it.

/** Writes records one line each, with backpressure, hashing each line as written. */
export class TransferWriter {
  private readonly hash: Hash = createHash('sha256');
  private readonly out: WriteStream;

  constructor(file: string) {
    // The file may carry sealed password hashes and every account's data: readable by its owner only.
    this.out = createWriteStream(file, { mode: 0o600 });
  }

  async write(record: TenantFileRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    this.hash.update(line);
    if (!this.out.write(line)) await once(this.out, 'drain');
  }

  /** Writes the trailer and closes the file; returns the checksum it wrote. */
  async finish(counts: TransferCounts): Promise<string> {
    const sha256 = this.hash.digest('hex');
    const trailer: TransferTrailer = { type: 'trailer', counts, sha256 };
    this.out.end(`${JSON.stringify(trailer)}\n`);
    await once(this.out, 'finish');
    return sha256;
  }

  /** Closes the file after a failure. */
  abort(): void {
    this.out.destroy();
  }
}

/** Each record of a file with its 1-based line number, in order, as the file is read. */
export async function* readTransferRecords(file: string): AsyncGenerator<{ record: TenantFileRecord; line: number }> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text === '') continue;
    yield { record: parseTransferRecord(text, line), line };
  }
}

/** What a whole file holds, once its checksum and counts are verified. */
export interface VerifiedFile {
  header: TransferHeader;
  trailer: TransferTrailer;
}

/**
 * Reads the whole file once before anything is written: the record order, the trailer's checksum over every line
 * before it, and its counts against the records. A file cut short (no trailer) or altered is refused, INVALID_INPUT.
 */
export async function verifyTransferFile(file: string): Promise<VerifiedFile> {
  const hash = createHash('sha256');
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  const counted: TransferCounts = { extensions: 0, users: 0, groups: 0, memberships: 0, passwords: 0 };
  let header: TransferHeader | undefined;
  let trailer: TransferTrailer | undefined;
  let previous: TenantFileRecord['type'] | undefined;
  let line = 0;
  for await (const text of lines) {
    line += 1;
    const record = parseTransferRecord(text, line);
    checkRecordOrder(previous, record, line);
    previous = record.type;
    if (record.type === 'trailer') {
      trailer = record;
      continue;
    }
    hash.update(`${text}\n`);
    if (record.type === 'header') header = record;
    else if (record.type === 'extension') counted.extensions += 1;
    else if (record.type === 'User') {
      counted.users += 1;
      if (record.sealedPasswordHash !== undefined) counted.passwords += 1;
    } else if (record.type === 'Group') {
      counted.groups += 1;
      counted.memberships += Array.isArray(record.resource.members) ? record.resource.members.length : 0;
    }
  }
  if (!header) throw new MeridianError('INVALID_INPUT', `${file} is empty.`, { field: 'in' });
  if (!trailer) {
    throw new MeridianError('INVALID_INPUT', `${file} ends at line ${line} before its trailer: the file is incomplete.`, { field: 'in' });
  }
  if (hash.digest('hex') !== trailer.sha256) {
    throw new MeridianError('INVALID_INPUT', `${file} fails its checksum: it was altered after the export.`, { field: 'in' });
  }
  const differ = (Object.keys(counted) as (keyof TransferCounts)[]).filter((k) => counted[k] !== trailer.counts[k]);
  if (differ.length > 0) {
    throw new MeridianError('INVALID_INPUT', `${file}: the trailer's counts of ${differ.join(', ')} do not match its records.`, {
      field: 'in',
    });
  }
  return { header, trailer };
}
