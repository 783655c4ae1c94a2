import { ApolloServer, type ApolloServerPlugin, HeaderMap } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import { CONSOLE_ROLE_HEADER, MeridianError, type Principal } from '@meridian/core';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { GraphQLError } from 'graphql';
import type { GraphqlContext, GraphqlServices } from './context.js';
import { formatGraphqlError } from './errors.js';
import { complexityLimitPlugin, DEFAULT_GRAPHQL_LIMITS, depthLimitRule, type GraphqlLimits, knownOperationTypeRule } from './limits.js';
import { buildMeridianSchema } from './schema.js';
import { stringInputPlugin } from './string-inputs.js';

/** Options of {@link registerGraphql}. */
export interface GraphqlOptions {
  services: GraphqlServices;
  /**
   * Resolves the `Authorization` header to a principal, or undefined when it is missing or invalid (logging why to `log`).
   * GraphQL accepts the admin console's tokens too, acting as the role the `Meridian-Role` header names (ADR 0034);
   * a role the account was not granted throws FORBIDDEN.
   */
  authenticate(
    authorization: string | undefined,
    log?: FastifyBaseLogger,
    options?: { console?: { role: string | undefined } },
  ): Promise<Principal | undefined>;
  /**
   * Called once a request is authenticated; answers the seconds to wait when
   * the caller is over its rate limit (the request is then refused with
   * `RATE_LIMITED`), or undefined to let it through.
   */
  throttle?(request: FastifyRequest, principal: Principal): Promise<number | undefined>;
  limits?: Partial<GraphqlLimits>;
  path?: string;
  /** Called after a mutation answered (the hub wakes its outbox relay). */
  onMutation?: () => void;
  /**
   * Called once per operation answered, for the hub's metrics: its type (null when it never parsed) and root
   * field names (only once it validated against the schema, so they are a bounded set), and whether errors came back.
   */
  onOperation?: (operation: GraphqlOperationOutcome) => void;
  /**
   * Called once an operation is known, before it runs, with its type and caller, in the request's async
   * context: the hub lets a query's reads go to its read replica and notes a mutation's caller as a writer
   * (docs/scaling.md, ADR 0031).
   */
  beforeExecute?: (type: 'query' | 'mutation' | 'subscription', principal: Principal) => void;
  /** Turns an error the services let through into a domain error where it can (a lost database connection: `UNAVAILABLE`). */
  translateError?: (error: unknown) => unknown;
}

/** What {@link GraphqlOptions.onOperation} is told. */
export interface GraphqlOperationOutcome {
  type: 'query' | 'mutation' | 'subscription' | null;
  fields: string[];
  errors: boolean;
}

/** The wire body of an error raised before GraphQL runs (body parsing, size). */
function transportError(message: string, code: string) {
  return { errors: [{ message, extensions: { code } }] };
}

/**
 * Logs errors that are neither domain errors nor GraphQL's own (a resolver
 * that threw a TypeError, a lost database connection): the client sees only
 * INTERNAL_SERVER_ERROR, so the cause must reach the operator.
 */
function unexpectedErrorLogPlugin(app: FastifyInstance): ApolloServerPlugin<GraphqlContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            const cause = error.originalError;
            if (cause === undefined || cause instanceof MeridianError || cause instanceof GraphQLError) continue;
            app.log.error({ err: cause, reqId: contextValue?.requestId, path: error.path }, 'GraphQL operation failed');
          }
        },
      };
    },
  };
}

/** Mounts Apollo Server with the Meridian schema on a Fastify app at `/graphql`. */
export async function registerGraphql(app: FastifyInstance, options: GraphqlOptions): Promise<void> {
  const limits: GraphqlLimits = { ...DEFAULT_GRAPHQL_LIMITS, ...options.limits };
  const schema = await buildMeridianSchema();
  const apollo = new ApolloServer<GraphqlContext>({
    schema,
    formatError: (formatted, error) => {
      const original = (error as { originalError?: unknown }).originalError;
      const translated = original === undefined || !options.translateError ? original : options.translateError(original);
      return formatGraphqlError(formatted, translated === original ? error : { originalError: translated });
    },
    includeStacktraceInErrorResponses: false,
    // Introspection stays on: the explorer needs it, and the schema is public in the repository anyway.
    introspection: true,
    // The host process owns its signals: Apollo would stop on SIGTERM and then send SIGTERM to the process
    // again, which the hub reads as a second signal (exit at once). It stops when the Fastify app closes.
    stopOnTerminationSignals: false,
    validationRules: [knownOperationTypeRule, depthLimitRule(limits.maxDepth)],
    // Apollo's guard against fragments that multiply into millions of selections.
    maxRecursiveSelections: true,
    // No CDN-hosted landing page: the hub works offline.
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // Before the cost: a string no resolver may see refuses the operation whatever it costs (issue 12).
      stringInputPlugin(),
      complexityLimitPlugin(schema, limits.maxComplexity),
      unexpectedErrorLogPlugin(app),
      {
        async requestDidStart() {
          let fields: string[] = [];
          return {
            async didResolveOperation({ operation, contextValue }) {
              if (operation) options.beforeExecute?.(operation.operation, contextValue.principal);
              fields = operation?.selectionSet.selections.flatMap((s) => (s.kind === 'Field' ? [s.name.value] : [])) ?? [];
            },
            async willSendResponse({ operation, response }) {
              if (operation?.operation === 'mutation') options.onMutation?.();
              const errors = response.body.kind === 'single' && (response.body.singleResult.errors?.length ?? 0) > 0;
              options.onOperation?.({ type: operation?.operation ?? null, fields, errors });
            },
          };
        },
      },
    ],
  });
  await apollo.start();
  // Fastify's close drains the HTTP connections; Apollo's drain plugin would call close again from inside it and wait forever.
  app.addHook('onClose', async () => apollo.stop());
  const handler = fastifyApolloHandler(apollo, {
    context: async (request) => {
      let principal: Principal | undefined;
      try {
        const role = request.headers[CONSOLE_ROLE_HEADER];
        principal = await options.authenticate(request.headers.authorization, request.log, {
          console: { role: Array.isArray(role) ? role.join(',') : role },
        });
      } catch (error) {
        if (error instanceof MeridianError && error.code === 'FORBIDDEN') {
          throw new GraphQLError(error.message, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
        }
        const translated = options.translateError ? options.translateError(error) : error;
        if (translated instanceof MeridianError && translated.code === 'UNAVAILABLE') {
          throw new GraphQLError(translated.message, {
            extensions: { code: 'UNAVAILABLE', http: { status: 503, headers: new HeaderMap([['retry-after', '5']]) } },
          });
        }
        throw error;
      }
      if (!principal) {
        // RFC 6750 §3.1: the challenge names the error, never why the token failed (that is logged at debug level).
        const challenge =
          request.headers.authorization === undefined ? 'Bearer realm="meridian"' : 'Bearer realm="meridian", error="invalid_token"';
        throw new GraphQLError(
          request.headers.authorization === undefined ? 'Authentication is required: send a bearer token.' : 'Invalid token.',
          {
            extensions: {
              code: 'UNAUTHENTICATED',
              http: { status: 401, headers: new HeaderMap([['www-authenticate', challenge]]) },
            },
          },
        );
      }
      const wait = await options.throttle?.(request, principal);
      if (wait !== undefined) {
        throw new GraphQLError(`Too many requests for this tenant; retry after ${wait} seconds.`, {
          extensions: { code: 'RATE_LIMITED', http: { status: 429, headers: new HeaderMap([['retry-after', String(wait)]]) } },
        });
      }
      return { principal, services: options.services, requestId: request.id, sourceAddress: request.ip, loaders: new Map() };
    },
  });
  // Its own scope, so body errors answer in GraphQL's shape rather than Fastify's.
  await app.register(async (scope) => {
    scope.setErrorHandler((error: { statusCode?: number }, request, reply) => {
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
      if (status >= 500) request.log.error({ err: error }, 'GraphQL request failed');
      const message =
        status === 413
          ? `The request body is larger than ${limits.maxBodyBytes} bytes.`
          : status === 415
            ? 'Send the GraphQL request as application/json.'
            : status >= 500
              ? 'Internal server error.'
              : 'The request body is not valid JSON.';
      return reply
        .code(status)
        .header('content-type', 'application/json; charset=utf-8')
        .send(transportError(message, status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST'));
    });
    scope.route({ method: ['GET', 'POST', 'OPTIONS'], url: options.path ?? '/graphql', bodyLimit: limits.maxBodyBytes, handler });
  });
}
