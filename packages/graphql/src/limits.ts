import type { ApolloServerPlugin } from '@apollo/server';
import {
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLNamedType,
  type GraphQLSchema,
  type InlineFragmentNode,
  isObjectType,
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
const LIMIT_ERROR_CODE = 'GRAPHQL_VALIDATION_FAILED';

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

/**
 * Fields whose cost grows with what is stored, not with their arguments: one
 * `auditVerification` reads and rehashes its whole chain. They may appear
 * once per operation (one alias, wherever it is spread from); a second one is
 * refused before any resolver runs, whatever the operation's estimated cost.
 */
const ONCE_PER_OPERATION: ReadonlySet<string> = new Set(['Query.auditVerification']);

/**
 * How many times each {@link ONCE_PER_OPERATION} field would execute in an
 * operation: its distinct response paths (alias or name), through fragments
 * and inline fragments. Selections graphql-js merges (the same alias twice)
 * count once.
 */
function onceFieldCounts(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  fields: ReadonlySet<string> = ONCE_PER_OPERATION,
): Map<string, number> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const paths = new Map<string, Set<string>>();
  const walk = (
    type: GraphQLNamedType | undefined | null,
    selectionSet: SelectionSetNode | undefined,
    path: string,
    visiting: Set<string>,
  ) => {
    if (!selectionSet || !type) return;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const key = `${path}/${selection.alias?.value ?? name}`;
        const coordinate = `${type.name}.${name}`;
        if (fields.has(coordinate)) {
          const seen = paths.get(coordinate) ?? new Set<string>();
          seen.add(key);
          paths.set(coordinate, seen);
        }
        const field = isObjectType(type) ? type.getFields()[name] : undefined;
        if (field && selection.selectionSet) walk(unwrap(field.type), selection.selectionSet, key, visiting);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        walk(condition ?? undefined, selection.selectionSet, path, visiting);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || visiting.has(name)) continue;
        visiting.add(name);
        walk(schema.getType(fragment.typeCondition.name.value) ?? undefined, fragment.selectionSet, path, visiting);
        visiting.delete(name);
      }
    }
  };
  walk(schema.getRootType(operation.operation) ?? undefined, operation.selectionSet, '', new Set());
  return new Map([...paths].map(([coordinate, keys]) => [coordinate, keys.size]));
}

function unwrap(type: unknown): GraphQLNamedType | undefined {
  let current = type as { ofType?: unknown; name?: string };
  while (current && current.ofType !== undefined) current = current.ofType as { ofType?: unknown; name?: string };
  return current as GraphQLNamedType | undefined;
}

function limitError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: LIMIT_ERROR_CODE, http: { status: 400 } } });
}

/**
 * An Apollo plugin refusing operations whose estimated cost exceeds
 * `maxComplexity`, or that ask for a {@link ONCE_PER_OPERATION} field more than once. It runs once the operation is known, because the cost
 * depends on variables (`first: $n`), which validation rules do not see.
 */
export function complexityLimitPlugin(schema: GraphQLSchema, maxComplexity: number): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, request, operationName, operation }) {
          for (const [coordinate, count] of operation ? onceFieldCounts(schema, document, operation) : []) {
            if (count > 1) {
              const field = coordinate.slice(coordinate.indexOf('.') + 1);
              throw limitError(
                `'${field}' may be asked once per request (it reads a whole audit chain); this operation asks for it ${count} times. Send one request per chain.`,
              );
            }
          }
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
