export {
  cleanupTestServer,
  createTestDatabase,
  prepareTestServer,
  type TestDatabase,
  type TestServer,
  withDatabase,
} from './database.js';
