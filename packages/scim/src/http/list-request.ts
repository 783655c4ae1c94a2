import {
  type AttributeSelection,
  type Filter,
  MeridianError,
  parseAttributePath,
  parseAttributeSelection,
  parseScimFilter,
  type ResourceQuery,
} from '@meridian/core';

/** A parsed list or search request (RFC 7644 §3.4.2, §3.4.3; RFC 9865). */
export interface ListRequest {
  query: ResourceQuery;
  selection: AttributeSelection;
}

/** Page sizes: what a client gets without asking, and the most it can get. */
export interface PageLimits {
  defaultCount: number;
  maxResults: number;
}

function integer(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new MeridianError('INVALID_INPUT', `'${name}' must be an integer.`, { field: name });
  return n;
}

function text(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(',');
  if (typeof value !== 'string') throw new MeridianError('INVALID_INPUT', `'${name}' must be a string.`, { field: name });
  return value;
}

/**
 * Parses list parameters from a query string (GET) or a SearchRequest body
 * (POST `.search`); both carry the same names. Counts above `maxResults`
 * are lowered to it (RFC 7644 §3.4.2.4), negative counts mean 0.
 */
export function parseListRequest(params: Record<string, unknown>, limits: PageLimits): ListRequest {
  const filterText = text(params.filter, 'filter');
  const filter: Filter | undefined = filterText !== undefined && filterText.trim() !== '' ? parseScimFilter(filterText) : undefined;
  const count = Math.min(Math.max(0, integer(params.count, 'count') ?? limits.defaultCount), limits.maxResults);
  const cursor = text(params.cursor, 'cursor');
  const startIndexGiven = integer(params.startIndex, 'startIndex');
  if (cursor !== undefined && startIndexGiven !== undefined) {
    throw new MeridianError('INVALID_INPUT', "Page with either 'cursor' or 'startIndex', not both (RFC 9865).", { field: 'cursor' });
  }
  // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1.
  const query: ResourceQuery = { startIndex: Math.max(1, startIndexGiven ?? 1), count };
  if (filter) query.filter = filter;
  if (cursor !== undefined) query.cursor = cursor;

  const sortBy = text(params.sortBy, 'sortBy');
  if (sortBy !== undefined && sortBy.trim() !== '') {
    try {
      query.sortBy = parseAttributePath(sortBy.trim());
    } catch {
      throw new MeridianError('INVALID_INPUT', `'${sortBy}' is not an attribute path.`, { field: 'sortBy' });
    }
  }
  const sortOrder = text(params.sortOrder, 'sortOrder');
  if (sortOrder !== undefined && sortOrder !== '') {
    const order = sortOrder.toLowerCase();
    if (order !== 'ascending' && order !== 'descending') {
      throw new MeridianError('INVALID_INPUT', "'sortOrder' is 'ascending' or 'descending'.", { field: 'sortOrder' });
    }
    query.sortOrder = order;
  }
  const selection = parseAttributeSelection(text(params.attributes, 'attributes'), text(params.excludedAttributes, 'excludedAttributes'));
  return { query, selection };
}
