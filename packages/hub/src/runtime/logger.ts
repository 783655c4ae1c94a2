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
   * Writes standard output asynchronously (`meridian serve`): the lines logged while a write is under way go
   * out together in the next one, instead of one system call per line on the request path. What is still
   * buffered when the process exits is written first; a process killed outright loses the lines of its last
   * write at most.
   */
  buffered?: boolean;
}

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
  return options.buffered ? pino(settings, pino.destination({ dest: 1, sync: false })) : pino(settings);
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
