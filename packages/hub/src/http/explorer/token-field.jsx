import { useId } from 'react';

/** The key the token is kept under; sessionStorage, so it goes with the tab. */
const TOKEN_KEY = 'meridian.explorer.token';

export function readStoredToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token still works until the page is closed.
  }
}

/** The bar above GraphiQL where the user pastes a bearer token. */
export function TokenField({ token, onChange }) {
  const id = useId();
  return (
    <form className="meridian-token" onSubmit={(event) => event.preventDefault()}>
      <span className="meridian-token-title">Meridian GraphQL explorer</span>
      <label htmlFor={id}>Bearer token</label>
      <input
        id={id}
        name="meridian-token"
        type="password"
        autoComplete="off"
        spellCheck={false}
        placeholder="Paste a token (mrd_…) to run queries"
        value={token}
        onChange={(event) => onChange(event.target.value.trim())}
      />
      <button type="button" onClick={() => onChange('')} disabled={!token}>
        Clear
      </button>
      <span className="meridian-token-hint">Kept in this tab only (sessionStorage); sent to this hub’s /graphql.</span>
    </form>
  );
}
