import pino from 'pino';
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';

export type Logger = pino.Logger;

/**
 * Where secrets can sit in a log line: request and response headers (bearer tokens, cookies) and
 * any field named like a token, password or secret, at the top or one level down. pino replaces
 * each with "[redacted]" before the line is written, for every logger of every command.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  // query strings: their values (a token sent as ?token= is refused, and must not be logged either)
  'req.query.*',
  ...['token', 'adminToken', 'password', 'secret', 'authorization'].flatMap((key) => [key, `*.${key}`]),
];

export function createLogger(level: string, name = 'patchflow', destination: pino.DestinationStream = pino.destination(2)): Logger {
  // Logs go to stderr, so stdout stays for what a command prints (the banner of `up`, paths).
  return pino({ name, level, base: { pid: process.pid }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}

/** Routes the Temporal SDK's runtime, worker, workflow and activity logs into pino. */
export function temporalLogger(logger: Logger): TemporalLogger {
  const child = logger.child({ component: 'temporal-sdk' });
  const emit = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const method = level.toLowerCase() as Lowercase<LogLevel>;
    child[method](meta ?? {}, message);
  };
  return {
    log: emit,
    trace: (message, meta) => emit('TRACE', message, meta),
    debug: (message, meta) => emit('DEBUG', message, meta),
    info: (message, meta) => emit('INFO', message, meta),
    warn: (message, meta) => emit('WARN', message, meta),
    error: (message, meta) => emit('ERROR', message, meta),
  };
}
