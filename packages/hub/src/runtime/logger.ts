import type { ConnectorLogger } from '@meridian/connector-sdk';
import type { FastifyReply } from 'fastify';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { HubConfig } from '../config/config.js';
import { LOG_REDACTION } from '../http/log-redaction.js';

/** Where and from which level the hub logs; the process's configuration decides unless a caller (a test) says otherwise. */
export interface HubLoggerOptions {
  /** pino level; `config.logLevel` (`LOG_LEVEL`) by default. */
  level?: string;
  /** Where the JSON lines go; standard output by default. */
  stream?: DestinationStream;
  /**
   * Writes standard output asynchronously (`meridian serve`): lines are gathered until 4 KiB are waiting, or for
   * {@link LOG_FLUSH_MS} at most, and go out in one write, instead of one system call per line on the request
   * path. What is still buffered when the process exits is written first; a process killed outright loses the
   * lines of its last moments at most.
   */
  buffered?: boolean;
}

/** How long a buffered log line may wait for others before it is written (`buffered`). */
const LOG_FLUSH_MS = 200;

/**
 * The process's one root logger: JSON lines on standard output, at
 * `LOG_LEVEL`, with the redaction of `log-redaction.ts` (credentials censored
 * wherever they appear). The HTTP app logs through it (Fastify's
 * `loggerInstance`) and so does the replication engine ({@link replicationLogger}).
 */
export function createHubLogger(config: Pick<HubConfig, 'logLevel'>, options: HubLoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? config.logLevel,
    ...LOG_REDACTION,
    serializers: {
      ...LOG_REDACTION.serializers,
      res: (reply: FastifyReply) => ({ statusCode: reply.statusCode }),
      err: pino.stdSerializers.err,
    },
  };
  if (options.stream) return pino(settings, options.stream);
  return options.buffered
    ? pino(settings, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: LOG_FLUSH_MS }))
    : pino(settings);
}

/** The hub's logger as the replication engine's {@link ConnectorLogger}: its lines carry `component: "replication"`. */
export function replicationLogger(root: Logger): ConnectorLogger {
  const logger = root.child({ component: 'replication' });
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}
