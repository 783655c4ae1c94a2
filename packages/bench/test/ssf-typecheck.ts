// `pnpm typecheck` checks packages/*/test/** with tsconfig.tests.json: these imports bring every source of
// the SSF bench (`pnpm bench:ssf`) into that program, the receivers' process included. Nothing here runs.
import '../src/ssf/main.js';
import '../src/ssf/receiver-process.js';
