import {
  type CompiledMapping,
  type CompiledScoping,
  type Connector,
  type ConnectorContext,
  type ConnectorFactory,
  type ConnectorSecrets,
  compileMapping,
  compileScoping,
} from '@meridian/connector-sdk';
import { MeridianError, type ReplicationTarget } from '@meridian/core';

/** The connector kinds a hub knows, by `kind`. */
export class ConnectorRegistry {
  private readonly byKind = new Map<string, ConnectorFactory<unknown>>();

  constructor(factories: readonly ConnectorFactory<unknown>[]) {
    for (const factory of factories) {
      if (this.byKind.has(factory.kind)) throw new TypeError(`Two connector factories of kind '${factory.kind}'.`);
      this.byKind.set(factory.kind, factory as unknown as ConnectorFactory<unknown>);
    }
  }

  /** The factory of a kind; `INVALID_CONFIG` for an unknown kind. */
  factory(kind: string): ConnectorFactory<unknown> {
    const found = this.byKind.get(kind);
    if (!found) {
      throw new MeridianError('INVALID_CONFIG', `Unknown connector kind '${kind}'; known: ${[...this.byKind.keys()].join(', ')}.`, {
        field: 'kind',
      });
    }
    return found;
  }

  /** Every registered kind, with its description. */
  kinds(): { kind: string; description: string; secretNames: readonly string[] }[] {
    return [...this.byKind.values()].map((f) => ({ kind: f.kind, description: f.description, secretNames: f.secretNames }));
  }
}

/** A target ready to work with: its connector, compiled mapping and scoping. */
export interface TargetRuntime {
  target: ReplicationTarget;
  connector: Connector;
  mapping: CompiledMapping;
  scoping: CompiledScoping;
}

/**
 * Builds a target's runtime from its stored row and decrypted secrets.
 * Connectors are cheap to make; callers cache them per target version.
 */
export function buildTargetRuntime(
  registry: ConnectorRegistry,
  target: ReplicationTarget,
  secrets: ConnectorSecrets,
  context: ConnectorContext,
): TargetRuntime {
  const factory = registry.factory(target.kind);
  const config = factory.validateConfig(target.config, secrets);
  return {
    target,
    connector: factory.create(config, secrets, context),
    mapping: compileMapping(target.mapping),
    scoping: compileScoping(target.scoping),
  };
}
