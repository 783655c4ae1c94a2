import { MeridianError } from '@meridian/core';
import type { GraphQLFormattedError } from 'graphql';

/**
 * Formats errors for the wire: a domain error keeps its code, message and
 * field; anything else becomes INTERNAL_SERVER_ERROR without detail.
 */
export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = (error as { originalError?: unknown }).originalError;
  if (original instanceof MeridianError) {
    const extensions: Record<string, unknown> = { code: original.code };
    if (original.field !== undefined) extensions.field = original.field;
    return { message: original.message, ...(formatted.path ? { path: formatted.path } : {}), extensions };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') {
    // Apollo's own client errors (parse, validation, bad user input) are safe to show.
    return { message: formatted.message, ...(formatted.locations ? { locations: formatted.locations } : {}), extensions: { code } };
  }
  return {
    message: 'Internal server error.',
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}
