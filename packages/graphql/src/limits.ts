import type { ApolloServerPlugin } from '@apollo/server';
import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  type InlineFragmentNode,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { type ComplexityEstimator, getComplexity } from 'graphql-query-complexity';

/** What one GraphQL request may cost; the hub takes them from its configuration. */
export interface GraphqlLimits {
  /** Deepest field nesting an operation may have (introspection excepted, see {@link depthLimitRule}). */
  maxDepth: number;
  /** Highest estimated cost an operation may have (see {@link connectionEstimator}). */
  maxComplexity: number;
  /** Largest request body, in bytes. */
  maxBodyBytes: number;
}

/** The limits when the caller names none. */
export const DEFAULT_GRAPHQL_LIMITS: GraphqlLimits = { maxDepth: 12, maxComplexity: 25_000, maxBodyBytes: 102_400 };

/** The `extensions.code` of a request refused for its depth or cost: it is a validation failure like any other. */
export const LIMIT_ERROR_CODE = 'GRAPHQL_VALIDATION_FAILED';

const isIntrospection = (name: string) => name.startsWith('__');
/** The largest `first` the core accepts on any connection. */
const MAX_PAGE = 500;

/**
 * A validation rule refusing operations that nest fields deeper than
 * `maxDepth`. Fragments count where they are spread. Introspection
 * (`__schema`, `__type`) is left out so the explorer's standard query (15
 * levels of `ofType`) works; graphql-js's own MaxIntrospectionDepthRule, part
 * of `specifiedRules` since 16.9, bounds the costly nestings there.
 */
export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    // Depth of a selection set; `visiting` stops fragment cycles (NoFragmentCyclesRule reports them).
    const depthOf = (selectionSet: SelectionSetNode | undefined, visiting: Set<string>, budget: number): number => {
      if (!selectionSet) return 0;
      let deepest = 0;
      for (const selection of selectionSet.selections) {
        let depth = 0;
        if (selection.kind === Kind.FIELD) {
          if (isIntrospection(selection.name.value)) continue;
          // Beyond the limit the exact depth does not matter: stop descending.
          depth = budget <= 0 ? 1 : 1 + depthOf((selection as FieldNode).selectionSet, visiting, budget - 1);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          depth = depthOf((selection as InlineFragmentNode).selectionSet, visiting, budget);
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || visiting.has(name)) continue;
          visiting.add(name);
          depth = depthOf(fragment.selectionSet, visiting, budget);
          visiting.delete(name);
        }
        deepest = Math.max(deepest, depth);
        if (deepest > maxDepth) break;
      }
      return deepest;
    };
    return {
      OperationDefinition(operation: OperationDefinitionNode) {
        const depth = depthOf(operation.selectionSet, new Set(), maxDepth + 1);
        if (depth > maxDepth) {
          const name = operation.name ? `Operation '${operation.name.value}'` : 'The operation';
          context.reportError(
            new GraphQLError(`${name} nests fields more than ${maxDepth} levels deep; ask for less, or split it into several requests.`, {
              nodes: [operation],
            }),
          );
        }
      },
    };
  };
}

/**
 * Refuses an operation whose root type the schema lacks (a `subscription`):
 * graphql-js 16 only notices at execution, which answers an internal error
 * (issue 4, found by fuzzing; graphql-js 17 has KnownOperationTypesRule).
 */
export const knownOperationTypeRule: ValidationRule = (context: ValidationContext): ASTVisitor => ({
  OperationDefinition(operation: OperationDefinitionNode) {
    if (!context.getSchema().getRootType(operation.operation)) {
      context.reportError(new GraphQLError(`The schema has no ${operation.operation} operations.`, { nodes: [operation] }));
    }
  },
});

/**
 * Cost of a field: 1, plus its selection's cost, times `first` on a
 * connection (`users(first: 200) { ... }` costs 200 times one node).
 * Introspection costs nothing: it reads the in-memory schema.
 */
export const connectionEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  if (isIntrospection(field.name) || isIntrospection(type.name)) return 0;
  const first = args.first;
  // Past MAX_PAGE the core refuses `first` with INVALID_INPUT naming the argument, a clearer answer than a cost.
  if (typeof first === 'number' && Number.isFinite(first)) return 1 + Math.min(Math.max(0, first), MAX_PAGE) * childComplexity;
  return 1 + childComplexity;
};

function limitError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: LIMIT_ERROR_CODE, http: { status: 400 } } });
}

/**
 * An Apollo plugin refusing operations whose estimated cost exceeds
 * `maxComplexity`. It runs once the operation is known, because the cost
 * depends on variables (`first: $n`), which validation rules do not see.
 */
export function complexityLimitPlugin(schema: GraphQLSchema, maxComplexity: number): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, operationName }) {
          let cost: number;
          try {
            cost = getComplexity({
              schema,
              query: document,
              ...(operationName ? { operationName } : {}),
              variables: request.variables ?? {},
              estimators: [connectionEstimator],
            });
          } catch (error) {
            if (error instanceof GraphQLError && /maximum allowed number of nodes/.test(error.message)) {
              throw limitError('The query has too many fields and fragments to evaluate.');
            }
            // Variables that do not fit their types: execution reports them as BAD_USER_INPUT before any resolver runs.
            return;
          }
          if (cost > maxComplexity) {
            throw limitError(
              `The query's estimated cost is ${cost}, above the limit of ${maxComplexity} (a connection costs 'first' times its selection); ask for smaller pages or fewer fields.`,
            );
          }
        },
      };
    },
  };
}
