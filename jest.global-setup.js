import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

// The global setup runs outside jest's transform, so it uses the built test-utils.
export default async function globalSetup() {
  execFileSync('node_modules/.bin/tsc', ['-b', 'packages/test-utils'], { stdio: 'inherit' });
  const { prepareTestServer } = await import('./packages/test-utils/dist/index.js');
  const dataDir = resolve(process.env.MERIDIAN_DATA_DIR ?? '.meridian', 'test');
  const server = await prepareTestServer(dataDir);
  process.env.MERIDIAN_TEST_ADMIN_URL = server.adminUrl;
  process.env.MERIDIAN_TEST_TEMPLATE = server.template;
  globalThis.__meridianTestServer = server;
}
