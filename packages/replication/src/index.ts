export { type JobQueue, type JobQueueOptions, openJobQueue, type QueueBackendKind } from './queue/job-queue.js';
