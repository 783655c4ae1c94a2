/** An attribute path: `[schemaURN:]attribute[.subAttribute]` (RFC 7644 §3.10). */
export interface AttributePath {
  /** The schema URN when the path is qualified, e.g. the enterprise extension. */
  schema?: string;
  attribute: string;
  subAttribute?: string;
}

/** Comparison operators of RFC 7644 §3.4.2.2. */
export type CompareOperator = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

/** A literal compared against an attribute. */
export type CompareValue = string | number | boolean | null;

/** A parsed SCIM filter. */
export type Filter =
  | { op: 'and' | 'or'; left: Filter; right: Filter }
  | { op: 'not'; filter: Filter }
  | { op: 'pr'; path: AttributePath }
  | { op: CompareOperator; path: AttributePath; value: CompareValue }
  /** `emails[type eq "work"]`: one value of a multi-valued attribute matches `filter`. */
  | { op: 'valuePath'; path: AttributePath; filter: Filter };
