// `pnpm typecheck` checks packages/*/test/** with tsconfig.tests.json: these imports bring every source of
// the replication bench (`pnpm bench:replication`) into that program, the child-process entries included.
// Nothing here runs.
import '../src/replication/main.js';
import '../src/replication/baseline-worker.js';
import '../src/replication/target-process.js';
