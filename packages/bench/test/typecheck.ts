// `pnpm typecheck` checks packages/*/test/** with tsconfig.tests.json, and these imports
// bring every bench source into that program. The bench is no jest project: nothing here runs.
import '../src/baseline-server.js';
import '../src/main.js';
import '../src/minimal-server.js';
