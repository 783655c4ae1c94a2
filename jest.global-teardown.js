export default async function globalTeardown() {
  const server = globalThis.__meridianTestServer;
  if (!server) return;
  const { cleanupTestServer } = await import('./packages/test-utils/dist/index.js');
  await cleanupTestServer(server);
}
