// The console's only data source: the hub's GraphQL API, with the signed-in
// user's access token and the console role they act as.
import { Client, type CombinedError, cacheExchange, fetchExchange, mapExchange } from '@urql/core';
import { currentSession, reauthenticate } from './auth.js';

const ROLE_KEY = 'meridian.console.role';

/** The console role this tab chose to act as: `end_user` (no `Meridian-Role`), a granted role, or undefined when not chosen yet. */
export function actingRole(): string | undefined {
  return sessionStorage.getItem(ROLE_KEY) ?? undefined;
}

/** Switches the acting role; the caller reloads the data. */
export function setActingRole(role: string): void {
  sessionStorage.setItem(ROLE_KEY, role);
}

function unauthenticated(error: CombinedError): boolean {
  return error.response?.status === 401 || error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED');
}

/** A GraphQL client that signs every request and signs in again when the token has expired or is refused. */
export function createApiClient(): Client {
  return new Client({
    url: '/graphql',
    // POST only: the hub's GraphQL refuses GET requests without a preflight header (CSRF protection).
    preferGetMethod: false,
    requestPolicy: 'cache-and-network',
    exchanges: [
      cacheExchange,
      mapExchange({
        onOperation(operation) {
          if (!currentSession()) reauthenticate();
          return operation;
        },
        onError(error) {
          if (unauthenticated(error)) reauthenticate();
        },
      }),
      fetchExchange,
    ],
    fetchOptions: () => {
      const session = currentSession();
      const role = actingRole();
      const headers: Record<string, string> = {};
      if (session) headers.authorization = `Bearer ${session.accessToken}`;
      if (role && role !== 'end_user') headers['meridian-role'] = role;
      return { headers };
    },
  });
}

/** The message to show for a failed operation: the server's own words, without urql's prefix. */
export function errorMessage(error: CombinedError | undefined): string | undefined {
  if (!error) return undefined;
  if (error.graphQLErrors.length > 0) return error.graphQLErrors.map((e) => e.message).join(' ');
  return error.networkError ? `The hub could not be reached: ${error.networkError.message}` : error.message;
}

/** The field a server validation error names (`extensions.field`), to show the message beside it. */
export function errorField(error: CombinedError | undefined): string | undefined {
  const field = error?.graphQLErrors.find((e) => typeof e.extensions?.field === 'string')?.extensions?.field;
  return typeof field === 'string' ? field : undefined;
}

/**
 * The context of an operation made as the signed-in person themself (end_user:
 * `me`, `updateMe`, `revokeMyGrant`), whatever console role the tab acts as.
 */
export const AS_MYSELF = {
  fetchOptions: (): RequestInit => {
    const session = currentSession();
    const headers: Record<string, string> = {};
    if (session) headers.authorization = `Bearer ${session.accessToken}`;
    return { headers };
  },
};
