/**
 * Which dependency an error says is down: PostgreSQL (a connection refused, lost, timed out or
 * refused by a server shutting down or starting), Temporal (gRPC `UNAVAILABLE`, or no answer
 * before the call's deadline), or the patchflow worker (Temporal answers a query that no worker
 * polls the task queue). Such an error becomes a 503 `unavailable` naming the dependency
 * (docs/http-api.md, "Errors"); anything else is not an outage and keeps its own meaning.
 */
import { isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { databaseOutage } from '../db/unavailable';

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

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_FAILED_PRECONDITION = 9;

/** The outage an error reports, or undefined when it is not one. Looks through `cause` chains. */
export function outageOf(err: unknown): Outage | undefined {
  return temporalOutage(err, 0) ?? postgresOutage(err);
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

/** The API's pool also cancels a statement at its statement_timeout (57014): no answer in time. */
function postgresOutage(err: unknown): Outage | undefined {
  const timedOut = err instanceof Error && (err as { code?: unknown }).code === '57014';
  const reason = timedOut ? 'no answer in time' : databaseOutage(err);
  return reason ? { dependency: 'postgres', reason } : undefined;
}
