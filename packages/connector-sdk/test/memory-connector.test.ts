import { ConnectorError, MemoryConnector, memoryConnectorFactory, memoryTarget } from '@meridian/connector-sdk';
import { runConnectorConformance } from '@meridian/connector-sdk/testing';
import { systemClock } from '@meridian/core';

const target = memoryTarget('conformance');
const context = {
  clock: systemClock,
  fetch: globalThis.fetch,
  logger: { debug() {}, info() {}, warn() {}, error() {} },
};

runConnectorConformance(
  'memory (reference)',
  () => memoryConnectorFactory.create(memoryConnectorFactory.validateConfig({ target: 'conformance' }, {}), {}, context),
  {
    injectFault(kind) {
      target.inject({
        error:
          kind === 'transient'
            ? new ConnectorError('transient', 'Service unavailable', { status: 503 })
            : kind === 'rate_limited'
              ? new ConnectorError('rate_limited', 'Too many requests', { status: 429, retryAfterMs: 1000 })
              : new ConnectorError('permanent', 'Bad request', { status: 400 }),
      });
    },
  },
);

runConnectorConformance('memory with a token', () => {
  memoryTarget('with-token').token = 's3cret';
  return new MemoryConnector(memoryTarget('with-token'), 's3cret');
});
