import type { ConnectorSecrets } from '@meridian/connector-sdk';
import { MeridianError } from '@meridian/core';
import { z } from 'zod';

/** The validated configuration of one SCIM target (the token is a secret, kept apart). */
export interface ScimConnectorConfig {
  /** The SCIM base URL, e.g. `https://hub.example/scim/v2`, without a trailing slash. */
  baseUrl: string;
  /** How long one HTTP request may take, body included, before it counts as a transient failure. */
  timeoutMs: number;
  /** The most member references one group request carries; larger deltas are split. */
  maxMembersPerRequest: number;
  /** The `count` asked for per list page (the target may answer fewer). */
  pageSize: number;
  /** PATCH or PUT for updates; `auto` reads `patch.supported` from `/ServiceProviderConfig`. */
  usePatch: boolean | 'auto';
  /** Whether passwords are pushed (`setPassword`); off by default. */
  supportsPassword: boolean;
  /** Whether the target serves Meridian's `POST /OwnershipTransfers` extension (docs/connector-scim.md); off by default. */
  transferOwnership: boolean;
}

/** The secrets of a SCIM target. */
export interface ScimConnectorSecrets {
  /** The bearer token (RFC 6750) the target issued. */
  token: string;
}

const integer = (name: string, min: number, max: number, fallback: number) =>
  z
    .number({ message: `'${name}' must be a number` })
    .int(`'${name}' must be an integer`)
    .min(min, `'${name}' must be between ${min} and ${max}`)
    .max(max, `'${name}' must be between ${min} and ${max}`)
    .default(fallback);

const configSchema = z.strictObject(
  {
    baseUrl: z
      .string({ message: "'baseUrl' is required: the target's SCIM base URL" })
      .trim()
      .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), {
        message: "'baseUrl' must be an absolute http:// or https:// URL",
      })
      .refine((v) => !URL.canParse(v) || (new URL(v).username === '' && new URL(v).password === ''), {
        message: "'baseUrl' must not carry credentials: put the token in the secrets",
      })
      .refine((v) => !URL.canParse(v) || (new URL(v).search === '' && new URL(v).hash === ''), {
        message: "'baseUrl' must not have a query or a fragment",
      })
      .transform((v) => v.replace(/\/+$/, '')),
    timeoutMs: integer('timeoutMs', 100, 600_000, 30_000),
    maxMembersPerRequest: integer('maxMembersPerRequest', 1, 100_000, 100),
    pageSize: integer('pageSize', 1, 10_000, 100),
    usePatch: z.union([z.boolean(), z.literal('auto')], { message: '\'usePatch\' must be true, false or "auto"' }).default('auto'),
    supportsPassword: z.boolean({ message: "'supportsPassword' must be a boolean" }).default(false),
    transferOwnership: z.boolean({ message: "'transferOwnership' must be a boolean" }).default(false),
  },
  { message: 'the config must be an object' },
);

function invalid(issue: z.core.$ZodIssue, prefix: string): MeridianError {
  const path = issue.path.map(String).join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `unknown setting(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}; known: baseUrl, timeoutMs, maxMembersPerRequest, pageSize, usePatch, supportsPassword, transferOwnership`
      : issue.message;
  return new MeridianError('INVALID_CONFIG', `SCIM connector: ${message}.`, { field: path ? `${prefix}.${path}` : prefix });
}

/**
 * Checks and normalises a SCIM target's config and secrets; throws a
 * `MeridianError` with code `INVALID_CONFIG` naming the first bad field
 * (`config.baseUrl`, `secrets.token`, ...).
 *
 * @example
 * parseScimConnectorConfig({ baseUrl: 'https://csp.example/scim/v2/' }, { token: 's3cret' }).baseUrl // 'https://csp.example/scim/v2'
 */
export function parseScimConnectorConfig(config: unknown, secrets: ConnectorSecrets): ScimConnectorConfig {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) throw invalid(parsed.error.issues[0]!, 'config');
  readScimSecrets(secrets);
  return parsed.data;
}

/** The secrets a SCIM connector needs; `INVALID_CONFIG` naming `secrets.token` when the token is missing. */
export function readScimSecrets(secrets: ConnectorSecrets): ScimConnectorSecrets {
  const token = secrets.token;
  if (typeof token !== 'string' || token.trim() === '') {
    throw new MeridianError('INVALID_CONFIG', "SCIM connector: the secret 'token' (the target's bearer token) is required.", {
      field: 'secrets.token',
    });
  }
  if (/[\s]/.test(token)) {
    throw new MeridianError('INVALID_CONFIG', "SCIM connector: the secret 'token' must not contain whitespace.", {
      field: 'secrets.token',
    });
  }
  return { token };
}
