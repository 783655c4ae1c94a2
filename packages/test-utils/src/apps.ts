// Harnesses of the SCIM and GraphQL apps and their clients. They use jest's `expect` and load the GraphQL schema,
// so they are an entry point of their own: the main one stays loadable outside jest (the global setup, the bench).
export {
  type AppHarness,
  buildTestApp,
  type GqlError,
  type GqlResponse,
  gql,
  openTestServices,
  startGraphqlApp,
  startScimApp,
  TEST_ADMIN_TOKEN,
  type TestApp,
  type TestServices,
} from './app-harness.js';
export {
  checkedScimClient,
  eventCounts,
  type Json,
  patchOp,
  query,
  resourcesOf,
  SCIM_CONTENT_TYPE,
  type ScimClient,
  type ScimMethod,
  type ScimResponse,
  scimClient,
  scimError,
} from './scim-client.js';
