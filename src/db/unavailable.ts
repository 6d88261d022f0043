/**
 * Whether an error means patchflow could not reach its own PostgreSQL (refused, reset, timed out,
 * shut down, out of connections), as opposed to a statement that failed on its own merits. An
 * outage of patchflow's database is never a host's fault (docs/process.md, step 7).
 */

/** SQLSTATEs of a lost or refused connection: class 08, the server shutting down or starting, too many connections. */
const UNAVAILABLE_STATES = /^(08...|57P01|57P02|57P03|53300)$/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** What `pg` says when a connection breaks or cannot be had (it sets no code for these). */
const MESSAGES = [/connection terminated/i, /timeout exceeded when trying to connect/i, /connection error and is not queryable/i];

export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 5) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.test(code))) return true;
  if (MESSAGES.some((m) => m.test(err.message))) return true;
  // Node's connect tries every address of a host name and reports them together
  if (err instanceof AggregateError && err.errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(err.cause, depth + 1);
}
