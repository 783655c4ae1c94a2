import { ACTION_RULES, ACTIONS, permissionMatrix, ROLE_DEFINITIONS, ROLES, SCOPES } from '@meridian/core';

/** The generated parts of docs/security.md, by block name. */
type SecurityDocBlock = 'roles' | 'actions' | 'matrix';

const YES = '✓';
const NO = '—';

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const code = (value: string) => `\`${value}\``;

/** Renders the tables of docs/security.md from the core's roles, actions and operations (permissions.ts). */
function renderSecurityTables(): Record<SecurityDocBlock, string> {
  const roles = table(
    ['Role', 'Token for', 'Scopes', 'What it is for'],
    ROLES.map((role) => {
      const { level, scopes, description } = ROLE_DEFINITIONS[role];
      return [code(role), level, scopes.map(code).join(', '), description];
    }),
  );
  const actions = table(
    ['Action', 'Token for', 'Needs one of the scopes', 'Allows'],
    ACTIONS.map((action) => {
      const rule = ACTION_RULES[action];
      return [code(action), rule.levels.join(', '), rule.scopes.length ? rule.scopes.map(code).join(', ') : '(any)', rule.description];
    }),
  );
  const matrix = table(
    ['API', 'Operation', 'Action', 'On', ...ROLES.map(code)],
    permissionMatrix().map(({ operation, allowed }) => [
      operation.api,
      code(operation.name),
      code(operation.action),
      operation.target,
      ...ROLES.map((role) => (allowed[role] ? YES : NO)),
    ]),
  );
  return {
    roles,
    actions,
    matrix: `${matrix}\n\n${YES} allowed, ${NO} denied (403, or NOT_FOUND / FORBIDDEN in GraphQL). Scopes: ${SCOPES.map(code).join(', ')}.`,
  };
}

/**
 * Replaces each `<!-- generated:NAME -->` … `<!-- /generated:NAME -->` block
 * of `document` with the rendered table; the rest of the file is hand-written.
 */
export function updateSecurityDoc(document: string): string {
  const tables = renderSecurityTables();
  let out = document;
  for (const [name, text] of Object.entries(tables)) {
    const start = `<!-- generated:${name} -->`;
    const end = `<!-- /generated:${name} -->`;
    const from = out.indexOf(start);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`docs/security.md lacks the markers ${start} … ${end}.`);
    out = `${out.slice(0, from + start.length)}\n${text}\n${out.slice(to)}`;
  }
  return out;
}
