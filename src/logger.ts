import pino from 'pino';
import type { Logger as TemporalLogger, LogLevel, LogMetadata } from '@temporalio/common';

export type Logger = pino.Logger;

export function createLogger(level: string, name = 'patchflow'): Logger {
  // Logs go to stderr, so stdout stays for what a command prints (the banner of `up`, paths).
  return pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
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
