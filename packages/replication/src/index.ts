export { DirectoryExporter, type DirectoryExportInput, DirectoryExports, personAsUser } from './directory/directory-exports.js';
export { DirectoryProjector } from './directory/directory-projector.js';
export {
  DEFAULT_TUNING,
  type DeliveryObserver,
  graceJobId,
  ReplicationContext,
  type ReplicationDeps,
  type ReplicationTuning,
  type ResourceSource,
  type Sealer,
  targetSecretsContext,
} from './engine/context.js';
export { ReplicationOwnershipTransfers, type TransferLedger } from './engine/ownership-transfers.js';
export { ReplicationEngine, type ReplicationEngineOptions } from './engine/replication-engine.js';
export { NotSentError, RequestGate } from './engine/request-gate.js';
export { ResourceSynchronizer, type SyncOperation, type SyncResult, SyncStepError } from './engine/synchronizer.js';
export { retryDelay, WorkerHost } from './engine/worker-host.js';
export { type HostResolver, OutboundHttp, type OutboundHttpOptions } from './outbound/outbound-http.js';
export { type JobQueue, type JobQueueOptions, openJobQueue, type QueueBackendKind } from './queue/job-queue.js';
export { openRedis, parseRedisUrl, type RedisLocation } from './queue/redis-connection.js';
export { openTargetQueues, type SyncJobData, type TargetQueues, type TargetQueuesOptions } from './queue/target-queues.js';
export { differingAttributes, Reconciler } from './reconcile/reconciler.js';
export { OutboxRelay } from './relay/outbox-relay.js';
export { DeliveryWaiter } from './status/delivery-waiter.js';
export { buildTargetRuntime, ConnectorRegistry, type TargetRuntime } from './targets/connector-registry.js';
export { TargetService } from './targets/target-service.js';
