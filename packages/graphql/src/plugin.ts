import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import type { Principal } from '@meridian/core';
import type { FastifyInstance } from 'fastify';
import { GraphQLError } from 'graphql';
import type { GraphqlContext, GraphqlServices } from './context.js';
import { formatGraphqlError } from './errors.js';
import { buildMeridianSchema } from './schema.js';

/** Options of {@link registerGraphql}. */
export interface GraphqlOptions {
  services: GraphqlServices;
  authenticate(authorization: string | undefined): Promise<Principal | undefined>;
  path?: string;
}

/** Mounts Apollo Server with the Meridian schema on a Fastify app at `/graphql`. */
export async function registerGraphql(app: FastifyInstance, options: GraphqlOptions): Promise<void> {
  const apollo = new ApolloServer<GraphqlContext>({
    schema: await buildMeridianSchema(),
    formatError: formatGraphqlError,
    includeStacktraceInErrorResponses: false,
    // No CDN-hosted landing page: the hub works offline.
    plugins: [fastifyApolloDrainPlugin(app), ApolloServerPluginLandingPageDisabled()],
  });
  await apollo.start();
  await app.register(fastifyApollo(apollo), {
    path: options.path ?? '/graphql',
    context: async (request) => {
      const principal = await options.authenticate(request.headers.authorization);
      if (!principal) {
        throw new GraphQLError('Authentication is required: send a valid bearer token.', {
          extensions: {
            code: 'UNAUTHENTICATED',
            http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer realm="meridian"']]) },
          },
        });
      }
      return { principal, services: options.services, requestId: request.id, sourceAddress: request.ip };
    },
  });
}
