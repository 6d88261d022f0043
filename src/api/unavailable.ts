/**
 * Which dependency an error says is down: PostgreSQL (a connection refused, lost, timed out or
 * refused by a server shutting down or starting), Temporal (gRPC `UNAVAILABLE`, or no answer
 * before the call's deadline), or the patchflow worker (Temporal answers a query that no worker
 * polls the task queue). Such an error becomes a 503 `unavailable` naming the dependency
 * (docs/http-api.md, "Errors"); anything else is not an outage and keeps its own meaning.
 */
import { isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';

export type Dependency = 'postgres' | 'temporal' | 'worker';

export interface Outage {
  dependency: Dependency;
  /** A few words for the message: "connection refused", "no answer in time", ... */
  reason: string;
}

export const DEPENDENCY_NAMES: Record<Dependency, string> = {
  postgres: 'PostgreSQL',
  temporal: 'Temporal',
  worker: 'the patchflow worker',
};

/** Node's socket errors: the server is not there, or the connection to it broke. */
const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection lost',
  EPIPE: 'connection lost',
  ETIMEDOUT: 'no answer in time',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'unknown host',
};

/** SQLSTATEs of a server that cannot serve: class 08 (connection exception) and these. */
const SQLSTATE_REASONS: Record<string, string> = {
  '57P01': 'shutting down', // admin_shutdown
  '57P02': 'crashed', // crash_shutdown
  '57P03': 'starting up or shutting down', // cannot_connect_now
  '53300': 'too many connections',
  '57014': 'no answer in time', // query_canceled: the API pool's statement_timeout
};

/** What `pg` and `pg-pool` say, without a code, when a connection breaks or cannot be had in time. */
const PG_MESSAGES: [RegExp, string][] = [
  [/timeout exceeded when trying to connect/i, 'no connection in time'],
  [/connection terminated due to connection timeout/i, 'no connection in time'],
  [/query read timeout/i, 'no answer in time'],
  [/connection terminated/i, 'connection lost'],
  [/connection error and is not queryable/i, 'connection lost'],
];

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_FAILED_PRECONDITION = 9;

/** The outage an error reports, or undefined when it is not one. Looks through `cause` chains. */
export function outageOf(err: unknown): Outage | undefined {
  return temporalOutage(err, 0) ?? postgresOutage(err, 0);
}

function temporalOutage(err: unknown, depth: number): Outage | undefined {
  if (!(err instanceof Error) || depth > 5) return undefined;
  if (isGrpcServiceError(err)) {
    if ((err.code as number) === GRPC_UNAVAILABLE) return { dependency: 'temporal', reason: 'unreachable' };
    if ((err.code as number) === GRPC_DEADLINE_EXCEEDED) return { dependency: 'temporal', reason: 'no answer in time' };
    // a query nobody can answer: no worker has polled the task queue lately (down, or not yet back)
    if ((err.code as number) === GRPC_FAILED_PRECONDITION && /no poller seen/i.test(err.details)) {
      return { dependency: 'worker', reason: 'no worker polls the task queue' };
    }
    return undefined;
  }
  // an update whose answer did not come before the deadline (its cause is the gRPC error, when there is one)
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return temporalOutage(err.cause, depth + 1) ?? { dependency: 'temporal', reason: 'no answer in time' };
  }
  return temporalOutage(err.cause, depth + 1);
}

function postgresOutage(err: unknown, depth: number): Outage | undefined {
  if (!(err instanceof Error) || depth > 5) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    const reason = SOCKET_REASONS[code] ?? SQLSTATE_REASONS[code] ?? (/^08[0-9A-Z]{3}$/.test(code) ? 'connection failed' : undefined);
    if (reason) return { dependency: 'postgres', reason };
  }
  for (const [pattern, reason] of PG_MESSAGES) if (pattern.test(err.message)) return { dependency: 'postgres', reason };
  // Node's connect tries every address of a host name and reports the failures together
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const outage = postgresOutage(inner, depth + 1);
      if (outage) return outage;
    }
  }
  return postgresOutage(err.cause, depth + 1);
}
