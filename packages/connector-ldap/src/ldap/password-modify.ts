/** The LDAP Password Modify extended operation (RFC 3062). */
export const PASSWORD_MODIFY_OID = '1.3.6.1.4.1.4203.1.11.1';

function berLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tagged(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), berLength(content.length), content]);
}

/**
 * The request value of a password modify (RFC 3062 §2):
 * `SEQUENCE { userIdentity [0] OCTET STRING, newPasswd [2] OCTET STRING }`.
 * The server hashes the password by its own policy; the old one is not needed
 * when an administrator sets it.
 */
export function passwordModifyRequest(userDn: string, newPassword: string): Buffer {
  const body = Buffer.concat([tagged(0x80, Buffer.from(userDn, 'utf8')), tagged(0x82, Buffer.from(newPassword, 'utf8'))]);
  return tagged(0x30, body);
}
