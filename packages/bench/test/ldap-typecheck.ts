// `pnpm typecheck` checks packages/*/test/** with tsconfig.tests.json: these imports bring every source of
// the LDAP bench (`pnpm bench:ldap`) into that program, the child-process entry included. Nothing here runs.
import '../src/ldap/main.js';
import '../src/ldap/sync-process.js';
