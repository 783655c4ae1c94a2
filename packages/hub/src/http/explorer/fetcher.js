/** Where every operation goes: this hub's own endpoint, never a URL the page is given. */
const ENDPOINT = '/graphql';

/**
 * A GraphiQL fetcher that posts to the hub with the bearer token from the
 * token field. A header set in GraphiQL's headers editor wins, so one tab can
 * try another token without changing the field.
 */
export function createHubFetcher(token) {
  return async (params, options) => {
    const headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    for (const [name, value] of Object.entries(options?.headers ?? {})) headers[name.toLowerCase()] = String(value);
    const response = await fetch(ENDPOINT, {
      method: 'POST',
      headers,
      body: JSON.stringify(params),
      credentials: 'omit',
      cache: 'no-store',
    });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      // Not GraphQL's shape (a proxy's error page): GraphiQL shows strings as they are.
      return `HTTP ${response.status}: ${text}`;
    }
  };
}
