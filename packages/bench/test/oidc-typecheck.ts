// `pnpm typecheck` checks packages/*/test/** with tsconfig.tests.json: these imports bring every source of
// the OIDC bench (`pnpm bench:oidc`) into that program, the bare provider's process included. Nothing here runs.
import '../src/oidc/main.js';
import '../src/oidc/bare-provider.js';
