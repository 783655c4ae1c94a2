import type { AttributeDefinition, AttributeType, ResourceTypeDefinition, SchemaDefinition } from './schema-types.js';

/** Schema URNs of the core resources and messages (RFC 7643 §8.7, RFC 7644 §3). */
export const SCHEMA = {
  user: 'urn:ietf:params:scim:schemas:core:2.0:User',
  group: 'urn:ietf:params:scim:schemas:core:2.0:Group',
  enterpriseUser: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  listResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  patchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  searchRequest: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest',
  serviceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  resourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
} as const;

type AttrOptions = Partial<Omit<AttributeDefinition, 'name' | 'type'>>;

function attr(name: string, type: AttributeType, description: string, options: AttrOptions = {}): AttributeDefinition {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...options,
  };
}

/** A multi-valued attribute with the usual value/display/type/primary sub-attributes (RFC 7643 §2.4). */
function multiValued(
  name: string,
  description: string,
  types: string[],
  valueType: AttributeType = 'string',
  extra: AttributeDefinition[] = [],
): AttributeDefinition {
  return attr(name, 'complex', description, {
    multiValued: true,
    subAttributes: [
      attr('value', valueType, `The value of ${name}.`),
      attr('display', 'string', 'A human-readable name, primarily used for display purposes.'),
      attr('type', 'string', 'A label indicating the function of the value.', { canonicalValues: types }),
      attr('primary', 'boolean', 'Indicates the primary or preferred value.'),
      ...extra,
    ],
  });
}

const nameAttribute = attr('name', 'complex', "The components of the user's real name.", {
  subAttributes: [
    attr('formatted', 'string', 'The full name, formatted for display.'),
    attr('familyName', 'string', 'The family name.'),
    attr('givenName', 'string', 'The given name.'),
    attr('middleName', 'string', 'The middle name(s).'),
    attr('honorificPrefix', 'string', 'The honorific prefix(es).'),
    attr('honorificSuffix', 'string', 'The honorific suffix(es).'),
  ],
});

const addressesAttribute = attr('addresses', 'complex', 'Physical mailing addresses.', {
  multiValued: true,
  subAttributes: [
    attr('formatted', 'string', 'The full mailing address.'),
    attr('streetAddress', 'string', 'The full street address.'),
    attr('locality', 'string', 'The city or locality.'),
    attr('region', 'string', 'The state or region.'),
    attr('postalCode', 'string', 'The zip code or postal code.'),
    attr('country', 'string', 'The country name (ISO 3166-1 alpha-2).'),
    attr('type', 'string', 'The kind of address.', { canonicalValues: ['work', 'home', 'other'] }),
    attr('primary', 'boolean', 'Indicates the primary address.'),
  ],
});

const groupsAttribute = attr('groups', 'complex', 'Groups the user belongs to, directly or indirectly.', {
  multiValued: true,
  mutability: 'readOnly',
  subAttributes: [
    attr('value', 'string', 'The id of the group.', { mutability: 'readOnly' }),
    attr('$ref', 'reference', 'The URI of the group.', { mutability: 'readOnly', referenceTypes: ['Group'] }),
    attr('display', 'string', 'The display name of the group.', { mutability: 'readOnly' }),
    attr('type', 'string', 'direct or indirect.', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
  ],
});

/** The core User schema (RFC 7643 §4.1). */
export const userSchema: SchemaDefinition = {
  id: SCHEMA.user,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', 'string', 'Unique identifier for the User within the tenant.', {
      required: true,
      uniqueness: 'server',
    }),
    nameAttribute,
    attr('displayName', 'string', 'The name of the User, suitable for display.'),
    attr('nickName', 'string', 'The casual way to address the user.'),
    attr('profileUrl', 'reference', "A URI of the User's online profile.", { referenceTypes: ['external'] }),
    attr('title', 'string', "The user's title."),
    attr('userType', 'string', 'The relationship between the organization and the user.'),
    attr('preferredLanguage', 'string', "The User's preferred written or spoken language."),
    attr('locale', 'string', "The User's default location."),
    attr('timezone', 'string', "The User's time zone in the IANA Time Zone database format."),
    attr('active', 'boolean', "The User's administrative status."),
    attr('password', 'string', "The User's cleartext password, write-only.", {
      mutability: 'writeOnly',
      returned: 'never',
      caseExact: true,
    }),
    multiValued('emails', 'Email addresses for the user.', ['work', 'home', 'other']),
    multiValued('phoneNumbers', 'Phone numbers for the User.', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    multiValued('ims', 'Instant messaging addresses for the User.', ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
    multiValued('photos', 'URLs of photos of the User.', ['photo', 'thumbnail'], 'reference'),
    addressesAttribute,
    groupsAttribute,
    multiValued('entitlements', 'A list of entitlements for the User.', []),
    multiValued('roles', 'A list of roles for the User.', []),
    multiValued('x509Certificates', 'A list of certificates issued to the User.', [], 'binary'),
  ],
};

/** The core Group schema (RFC 7643 §4.2). */
export const groupSchema: SchemaDefinition = {
  id: SCHEMA.group,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', 'string', 'A human-readable name for the Group, unique within the tenant.', {
      required: true,
      uniqueness: 'server',
    }),
    attr('members', 'complex', 'A list of members of the Group.', {
      multiValued: true,
      subAttributes: [
        attr('value', 'string', 'Identifier of the member.', { mutability: 'immutable' }),
        attr('$ref', 'reference', 'The URI of the member.', { mutability: 'immutable', referenceTypes: ['User', 'Group'] }),
        attr('display', 'string', 'A human-readable name of the member.', { mutability: 'readOnly' }),
        attr('type', 'string', 'The kind of member.', { mutability: 'immutable', canonicalValues: ['User', 'Group'] }),
      ],
    }),
  ],
};

/** The Enterprise User extension (RFC 7643 §4.3). */
export const enterpriseUserSchema: SchemaDefinition = {
  id: SCHEMA.enterpriseUser,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    attr('employeeNumber', 'string', 'Numeric or alphanumeric identifier assigned to a person.'),
    attr('costCenter', 'string', 'Identifies the name of a cost center.'),
    attr('organization', 'string', 'Identifies the name of an organization.'),
    attr('division', 'string', 'Identifies the name of a division.'),
    attr('department', 'string', 'Identifies the name of a department.'),
    attr('manager', 'complex', "The User's manager.", {
      subAttributes: [
        attr('value', 'string', 'The id of the manager.'),
        attr('$ref', 'reference', 'The URI of the manager.', { referenceTypes: ['User'] }),
        attr('displayName', 'string', 'The display name of the manager.', { mutability: 'readOnly' }),
      ],
    }),
  ],
};

/** Resource types served at `/ResourceTypes` (RFC 7643 §6). */
export const resourceTypes: ResourceTypeDefinition[] = [
  {
    id: 'User',
    name: 'User',
    endpoint: '/Users',
    description: 'User Account',
    schema: SCHEMA.user,
    schemaExtensions: [{ schema: SCHEMA.enterpriseUser, required: false }],
  },
  {
    id: 'Group',
    name: 'Group',
    endpoint: '/Groups',
    description: 'Group',
    schema: SCHEMA.group,
    schemaExtensions: [],
  },
];

/** All schemas served at `/Schemas`. */
export const schemas: SchemaDefinition[] = [userSchema, enterpriseUserSchema, groupSchema];
