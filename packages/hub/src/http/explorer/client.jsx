// The explorer page's script: a token field above GraphiQL. Bundled with
// React, GraphiQL and Monaco by scripts/build-explorer.mjs.
import './workers.js';
import 'graphiql/style.css';
import './explorer.css';
import { GraphiQL } from 'graphiql';
import { StrictMode, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { createHubFetcher } from './fetcher.js';
import { readStoredToken, storeToken, TokenField } from './token-field.jsx';

const DEFAULT_QUERY = `# Paste a bearer token above, then run this with Ctrl+Enter.
# Ctrl+Space completes fields; the book icon on the left opens the schema.
{
  communities(first: 10) {
    totalCount
    edges { node { slug name } }
  }
}
`;

function Explorer() {
  const [token, setToken] = useState(readStoredToken);
  // A new fetcher makes GraphiQL introspect again, so the schema follows the token.
  const fetcher = useMemo(() => createHubFetcher(token), [token]);
  const changeToken = (next) => {
    storeToken(next);
    setToken(next);
  };
  return (
    <div className="meridian-explorer">
      <TokenField token={token} onChange={changeToken} />
      <div className="meridian-graphiql">
        {/* Headers are never persisted: a token typed there must not outlive the tab in localStorage. */}
        <GraphiQL fetcher={fetcher} defaultQuery={DEFAULT_QUERY} shouldPersistHeaders={false} showPersistHeadersSettings={false}>
          <GraphiQL.Logo>Meridian</GraphiQL.Logo>
        </GraphiQL>
      </div>
    </div>
  );
}

createRoot(document.getElementById('explorer')).render(
  <StrictMode>
    <Explorer />
  </StrictMode>,
);
