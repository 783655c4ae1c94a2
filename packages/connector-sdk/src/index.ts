export {
  type AttributeMapping,
  type CompiledMapping,
  compileMapping,
  type KindMapping,
  mapResource,
  splitAttributePath,
} from './mapping/attribute-mapping.js';
export { resourceDocument } from './mapping/resource-document.js';
export {
  type MemoryCall,
  MemoryConnector,
  type MemoryConnectorConfig,
  type MemoryFault,
  type MemoryOperation,
  MemoryTarget,
  type MemoryTargetObject,
  memoryConnectorFactory,
  memoryTarget,
} from './reference/memory-connector.js';
export { type CompiledScoping, compileScoping, isInScope, type ScopingFilter } from './scoping/scoping-filter.js';
export {
  type ConnectionTestResult,
  type Connector,
  type ConnectorCapabilities,
  type ConnectorContext,
  ConnectorError,
  type ConnectorErrorCode,
  type ConnectorErrorKind,
  type ConnectorErrorOptions,
  type ConnectorFactory,
  type ConnectorLogger,
  type ConnectorRequestRecord,
  type ConnectorResponseRecord,
  type ConnectorSecrets,
  classifyHttpStatus,
  isConnectorError,
  type JsonObject,
  type MembershipDelta,
  type OutboundMember,
  type OutboundObject,
  type RemoteObject,
  type RemoteRef,
} from './spi.js';
