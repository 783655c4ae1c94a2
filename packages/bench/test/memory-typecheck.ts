// `pnpm typecheck` checks packages/*/test/** with tsconfig.tests.json: this import brings every source of the
// memory bench (`pnpm bench:memory`) into that program. Nothing here runs.
import '../src/memory/main.js';
