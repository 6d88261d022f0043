/**
 * Whether an error means patchflow could not reach its own PostgreSQL (refused, lost, timed out,
 * shut down, starting, out of connections), as opposed to a statement that failed on its own
 * merits; and in a few words why. Shared by the activities (an outage of patchflow's database is
 * never a host's fault, docs/process.md step 7) and the API (503 `unavailable`).
 */

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

/** SQLSTATEs of a server that cannot serve (besides class 08, connection exception). */
const SQLSTATE_REASONS: Record<string, string> = {
  '57P01': 'shutting down', // admin_shutdown
  '57P02': 'crashed', // crash_shutdown
  '57P03': 'starting up or shutting down', // cannot_connect_now
  '53300': 'too many connections',
};

/** What `pg` and `pg-pool` say, without a code, when a connection breaks or cannot be had in time. */
const PG_MESSAGES: [RegExp, string][] = [
  [/timeout exceeded when trying to connect/i, 'no connection in time'],
  [/connection terminated due to connection timeout/i, 'no connection in time'],
  [/query read timeout/i, 'no answer in time'],
  [/connection terminated/i, 'connection lost'],
  [/connection error and is not queryable/i, 'connection lost'],
];

/** Why the database could not be reached, or undefined when the error is not an outage. Looks through `cause` chains. */
export function databaseOutage(err: unknown, depth = 0): string | undefined {
  if (!(err instanceof Error) || depth > 5) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    const reason = SOCKET_REASONS[code] ?? SQLSTATE_REASONS[code] ?? (/^08[0-9A-Z]{3}$/.test(code) ? 'connection failed' : undefined);
    if (reason) return reason;
  }
  for (const [pattern, reason] of PG_MESSAGES) if (pattern.test(err.message)) return reason;
  // Node's connect tries every address of a host name and reports the failures together
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const reason = databaseOutage(inner, depth + 1);
      if (reason) return reason;
    }
  }
  return databaseOutage(err.cause, depth + 1);
}

export const isDatabaseUnavailable = (err: unknown): boolean => databaseOutage(err) !== undefined;
