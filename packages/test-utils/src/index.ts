export {
  cleanupTestServer,
  createTestDatabase,
  dropTestDatabase,
  prepareTestServer,
  type TestDatabase,
  type TestServer,
  testDatabaseExists,
  testDatabaseName,
  withDatabase,
} from './database.js';
export { type EventuallyOptions, eventually, type NotYet } from './eventually.js';
export { type FakeFile, FakeFileCloud } from './fake-file-cloud.js';
export {
  type FakeScimAnswer,
  type FakeScimExtensionRequest,
  type FakeScimFault,
  type FakeScimFaultMatch,
  type FakeScimState,
  FakeScimTarget,
  type FakeScimTargetOptions,
  type RecordedRequest,
  type UserNameRejection,
} from './fake-scim-target.js';
export { type CapturedStatement, SqlCapture } from './sql-capture.js';
