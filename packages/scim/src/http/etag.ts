/** Parses an `If-Match` / `If-None-Match` or bulk `version` ETag (weak or strong) into a version, `*` into 'any'. */
export function parseEtag(header: string | undefined): number | 'any' | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return 'any';
  const match = /^(?:W\/)?"(\d+)"$/.exec(value);
  // An ETag we never issued cannot match the current version.
  return match ? Number(match[1]) : -1;
}
