import { Field, InputType, ObjectType } from 'type-graphql';

@ObjectType('SchemaAttribute', { description: 'An attribute definition of a schema (RFC 7643 §7).' })
export class SchemaAttributeNode {
  @Field(() => String)
  name!: string;

  @Field(() => String, { description: 'string, boolean, decimal, integer, dateTime, binary, reference or complex.' })
  type!: string;

  @Field(() => Boolean)
  multiValued!: boolean;

  @Field(() => String)
  description!: string;

  @Field(() => Boolean)
  required!: boolean;

  @Field(() => Boolean)
  caseExact!: boolean;

  @Field(() => String, { description: 'readOnly, readWrite, immutable or writeOnly.' })
  mutability!: string;

  @Field(() => String, { description: 'always, never, default or request.' })
  returned!: string;

  @Field(() => String, { description: 'none or server.' })
  uniqueness!: string;

  @Field(() => [String], { nullable: true })
  canonicalValues?: string[] | undefined;

  @Field(() => [String], { nullable: true })
  referenceTypes?: string[] | undefined;

  @Field(() => [SchemaAttributeNode], { nullable: true })
  subAttributes?: SchemaAttributeNode[] | undefined;
}

@ObjectType('SchemaExtension', { description: "A tenant's custom SCIM schema extension, served at /Schemas and /ResourceTypes." })
export class SchemaExtensionNode {
  @Field(() => String, { description: 'The extension URN.' })
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  description!: string;

  @Field(() => String, { description: 'User or Group.' })
  resourceType!: string;

  @Field(() => [SchemaAttributeNode])
  attributes!: SchemaAttributeNode[];
}

@ObjectType('SelfServicePolicy', { description: 'What end users may change on their own User through SCIM /Me.' })
export class SelfServicePolicyNode {
  @Field(() => [String], { description: 'Attribute paths, e.g. phoneNumbers, name.givenName, password.' })
  editableAttributes!: string[];
}

@InputType({ description: 'An attribute definition (RFC 7643 §7); omitted characteristics take the RFC defaults.' })
export class SchemaAttributeInput {
  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true, description: 'Defaults to string.' })
  type?: string;

  @Field(() => Boolean, { nullable: true })
  multiValued?: boolean;

  @Field(() => String, { nullable: true })
  description?: string;

  @Field(() => Boolean, { nullable: true })
  required?: boolean;

  @Field(() => Boolean, { nullable: true })
  caseExact?: boolean;

  @Field(() => String, { nullable: true })
  mutability?: string;

  @Field(() => String, { nullable: true })
  returned?: string;

  @Field(() => String, { nullable: true })
  uniqueness?: string;

  @Field(() => [String], { nullable: true })
  canonicalValues?: string[];

  @Field(() => [String], { nullable: true })
  referenceTypes?: string[];

  @Field(() => [SchemaAttributeInput], { nullable: true, description: 'Sub-attributes of a complex attribute (not complex themselves).' })
  subAttributes?: SchemaAttributeInput[];
}

@InputType({ description: 'A custom schema extension for one resource type of a tenant.' })
export class SchemaExtensionInput {
  @Field(() => String, {
    description: 'A URN outside urn:ietf:params:scim:, e.g. urn:example:params:scim:schemas:extension:acme:2.0:User.',
  })
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  description?: string;

  @Field(() => String, { description: 'User or Group.' })
  resourceType!: string;

  @Field(() => [SchemaAttributeInput])
  attributes!: SchemaAttributeInput[];
}
