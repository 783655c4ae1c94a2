/**
 * Escapes a value for an LDAP search filter (RFC 4515 §3: `*`, `(`, `)`,
 * `\` and NUL as `\XX`).
 *
 * @example
 * escapeFilterValue('a*(b)') // 'a\\2a\\28b\\29'
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Escapes an attribute value for use in a DN (RFC 4514 §2.4): `"`, `+`, `,`,
 * `;`, `<`, `>`, `\` and `=`; a leading space or `#` and a trailing space.
 *
 * @example
 * escapeDnValue('Doe, Jane') // 'Doe\\, Jane'
 */
export function escapeDnValue(value: string): string {
  let out = value.replace(/["+,;<>\\=]/g, (c) => `\\${c}`).replace(/\0/g, '\\00');
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && out.length > 1) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** Splits a DN into its first RDN and the parent DN, honouring escaped commas. */
export function splitDn(dn: string): { rdn: string; parent: string } {
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === '\\') {
      i++;
      continue;
    }
    if (dn[i] === ',') return { rdn: dn.slice(0, i), parent: dn.slice(i + 1).trim() };
  }
  return { rdn: dn, parent: '' };
}

/** Undoes RFC 4514 escaping of one RDN value (`\,` and `\2C` forms). */
function unescapeDnValue(value: string): string {
  return value.replace(/\\([0-9a-fA-F]{2}|.)/g, (_, c: string) => (c.length === 2 ? String.fromCharCode(Number.parseInt(c, 16)) : c));
}

/** The attribute and value of a DN's first RDN (`uid=ann,ou=people` -> `{ attribute: 'uid', value: 'ann' }`). */
export function firstRdn(dn: string): { attribute: string; value: string } {
  const { rdn } = splitDn(dn);
  const eq = rdn.indexOf('=');
  return { attribute: rdn.slice(0, eq).trim(), value: unescapeDnValue(rdn.slice(eq + 1).trim()) };
}

/** Compares two DNs loosely: case, spaces after commas and around `=` do not count. */
export function sameDn(a: string, b: string): boolean {
  const norm = (dn: string) => dn.replace(/\s*([,=])\s*/g, '$1').toLowerCase();
  return norm(a) === norm(b);
}
