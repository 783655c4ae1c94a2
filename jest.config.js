// One jest run for the whole monorepo: a project per package, one PostgreSQL
// server (DATABASE_URL's or an embedded one) and a database per test file.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testsWithoutTheirPrograms } from './jest.system-tools.js';

const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2023',
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const packages = [
  'core',
  'store',
  'scim',
  'graphql',
  'connector-sdk',
  'connector-scim',
  'connector-ldap',
  'replication',
  'oidc',
  'hub',
  'test-utils',
];

const left = testsWithoutTheirPrograms(dirname(fileURLToPath(import.meta.url)), packages);
for (const warning of left.warnings) console.warn(`\n${warning}\n`);

/** @type {import('jest').Config} */
export default {
  globalSetup: '<rootDir>/jest.global-setup.js',
  globalTeardown: '<rootDir>/jest.global-teardown.js',
  testTimeout: 60_000,
  projects: packages.map((name) => ({
    displayName: name,
    rootDir: '.',
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    transform: { '^.+\\.ts$': swc },
    moduleNameMapper: {
      '^@meridian/connector-sdk/testing$': '<rootDir>/packages/connector-sdk/src/testing/index.ts',
      '^@meridian/test-utils/apps$': '<rootDir>/packages/test-utils/src/apps.ts',
      '^@meridian/test-utils/fuzz$': '<rootDir>/packages/test-utils/src/fuzz.ts',
      '^@meridian/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    testMatch: [`<rootDir>/packages/${name}/{src,test}/**/*.test.ts`],
    testPathIgnorePatterns: ['/node_modules/', ...left.ignore],
  })),
};
