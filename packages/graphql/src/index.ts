export type { GraphqlContext, GraphqlServices } from './context.js';
export { formatGraphqlError } from './errors.js';
export { type GraphqlOperationOutcome, type GraphqlOptions, registerGraphql } from './plugin.js';
export { buildMeridianSchema, printMeridianSchema } from './schema.js';
