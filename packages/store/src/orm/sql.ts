/**
 * Encodes strings as one PostgreSQL array literal (`{"a","b"}`), bound as a
 * single parameter. MikroORM expands a JS array parameter into a list of
 * placeholders, which `= any(?)` and `unnest(?)` cannot take.
 */
export function pgArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}
