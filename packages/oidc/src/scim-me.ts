import { SCHEMA } from '@meridian/core';

type Claims = Readonly<Record<string, unknown>>;

const text = (claims: Claims, name: string): string | undefined => {
  const value = claims[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
};

function compact<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The released claims of a person (a userinfo answer) as a SCIM User
 * (RFC 7643 §4.1, §4.3): what a relying party reads at
 * `/oidc/{community}/scim/v2/Me` with the person's access token. It holds
 * exactly the released claims, under their SCIM names; `id` is the `sub` the
 * relying party knows (pairwise when it asked for that).
 */
export function scimUserOfClaims(claims: Claims, location: string): Record<string, unknown> {
  const enterprise = compact({
    department: text(claims, 'department'),
    organization: text(claims, 'organization'),
    division: text(claims, 'division'),
    costCenter: text(claims, 'cost_center'),
    employeeNumber: text(claims, 'employee_number'),
  });
  const name = compact({ givenName: text(claims, 'given_name'), familyName: text(claims, 'family_name') });
  const email = text(claims, 'email');
  const phone = text(claims, 'phone_number');
  const hasEnterprise = Object.keys(enterprise).length > 0;
  return compact({
    schemas: hasEnterprise ? [SCHEMA.user, SCHEMA.enterpriseUser] : [SCHEMA.user],
    id: text(claims, 'sub'),
    userName: text(claims, 'preferred_username'),
    displayName: text(claims, 'name'),
    name: Object.keys(name).length > 0 ? name : undefined,
    emails: email ? [{ value: email, primary: true }] : undefined,
    phoneNumbers: phone ? [{ value: phone, primary: true }] : undefined,
    title: text(claims, 'title'),
    [SCHEMA.enterpriseUser]: hasEnterprise ? enterprise : undefined,
    meta: { resourceType: 'User', location },
  });
}
