import { runConnectorConformance } from '@meridian/connector-sdk/testing';
import { systemClock } from '@meridian/core';
import { acmeConnectorFactory } from '../src/index.js';

// Run the kit against a real server: a fake of the target's API (a small HTTP server in
// test-utils or in this package), with fault injection for the error-classification tests.
const context = { clock: systemClock, fetch: globalThis.fetch, logger: { debug() {}, info() {}, warn() {}, error() {} } };

runConnectorConformance('acme', async () => {
  const fake = await startFakeAcme(); // your fake Acme API: start it here
  const secrets = { apiKey: fake.apiKey };
  const config = acmeConnectorFactory.validateConfig({ baseUrl: fake.url }, secrets);
  return { connector: acmeConnectorFactory.create(config, secrets, context), cleanup: () => fake.close() };
});

declare function startFakeAcme(): Promise<{ url: string; apiKey: string; close(): Promise<void> }>;
