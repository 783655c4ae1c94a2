import type { ApolloServerPlugin } from '@apollo/server';
import { MeridianError, textProblem } from '@meridian/core';
import {
  type ArgumentNode,
  type DocumentNode,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type ValueNode,
  type VariableDefinitionNode,
  visit,
} from 'graphql';

/**
 * The one text rule for GraphQL input (issue 12): every string an operation
 * hands the resolvers, whatever the argument, however deep in an input object
 * or list, whether written in the document or sent as a variable (custom
 * scalars such as `JSONObject` included, their keys too), follows core's
 * {@link textProblem}: no U+0000 (PostgreSQL cannot store it; a NUL in a
 * parameter also broke the connection) and no unpaired surrogate (it has no
 * UTF-8 form). A string that breaks it refuses the whole operation before any
 * resolver runs, with `INVALID_INPUT` naming the argument path
 * (`input.userName`, `members[1]`), as the resolvers name bad input. Lengths
 * are the resolvers' and the core's business (SCIM attribute limits).
 */
export function stringInputPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          const found = operation && findBadString(document, operation, request.variables ?? {});
          if (found === undefined) return;
          const error = new MeridianError('INVALID_INPUT', `Argument '${found.field}' ${found.problem}.`, { field: found.field });
          throw new GraphQLError(error.message, { originalError: error, extensions: { code: error.code, http: { status: 400 } } });
        },
      };
    },
  };
}

/** A string that breaks the rule: where (an argument path) and what is wrong with it. */
export interface BadString {
  field: string;
  problem: string;
}

/**
 * The first string of the operation's arguments that breaks the text rule:
 * literals of every argument (fields and directives, in the operation and the
 * fragments of the document), and, where an argument uses a variable, the
 * variable's value (or its default), named by the argument it fills.
 */
export function findBadString(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>>,
): BadString | undefined {
  const definitions = new Map<string, VariableDefinitionNode>(operation.variableDefinitions?.map((d) => [d.variable.name.value, d]) ?? []);
  let found: BadString | undefined;

  const checkString = (value: string, field: string): void => {
    const problem = textProblem(value);
    if (problem !== undefined) found = { field, problem };
  };
  const walkJson = (value: unknown, field: string): void => {
    if (found) return;
    if (typeof value === 'string') checkString(value, field);
    else if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walkJson(item, `${field}[${i}]`);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (found) return;
        checkString(key, `${field}.${key}`);
        walkJson(item, `${field}.${key}`);
      }
    }
  };
  const walkLiteral = (node: ValueNode, field: string): void => {
    if (found) return;
    switch (node.kind) {
      case Kind.STRING:
        checkString(node.value, field);
        return;
      case Kind.LIST:
        for (const [i, item] of node.values.entries()) walkLiteral(item, `${field}[${i}]`);
        return;
      case Kind.OBJECT:
        for (const item of node.fields) walkLiteral(item.value, `${field}.${item.name.value}`);
        return;
      case Kind.VARIABLE: {
        const name = node.name.value;
        if (Object.hasOwn(variables, name)) walkJson(variables[name], field);
        else {
          const fallback = definitions.get(name)?.defaultValue;
          if (fallback) walkLiteral(fallback, field);
        }
        return;
      }
      default:
        return;
    }
  };
  const walkArgument = (node: ArgumentNode): false => {
    walkLiteral(node.value, node.name.value);
    return false;
  };
  // Other operations of the document are walked too: a bad string anywhere in the request is refused.
  visit(document, { Argument: walkArgument, VariableDefinition: () => false });
  return found;
}
