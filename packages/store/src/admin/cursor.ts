import { MeridianError } from '@meridian/core';

/** The position of a row in a keyset ordered by (created_at, id). */
export interface KeysetCursor {
  t: string;
  id: string;
}

/** Encodes a keyset position as an opaque cursor. */
export function encodeCursor(cursor: KeysetCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** Decodes a cursor from {@link encodeCursor}; INVALID_INPUT for anything else. */
export function decodeCursor(text: string): KeysetCursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<KeysetCursor>;
    if (
      typeof value.t === 'string' &&
      typeof value.id === 'string' &&
      !Number.isNaN(Date.parse(value.t)) &&
      /^[0-9a-f-]{36}$/i.test(value.id)
    ) {
      return { t: value.t, id: value.id };
    }
  } catch {
    // fall through
  }
  throw new MeridianError('INVALID_INPUT', 'The cursor is not valid.', { field: 'after' });
}
