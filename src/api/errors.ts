import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { type z } from 'zod';
import type { Logger } from '../logger';
import { DEPENDENCY_NAMES, outageOf, type Dependency, type Outage } from './unavailable';

/** An error the client can act on; rendered as `{"error": {code, message, details}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** What went wrong underneath, for the log (never sent). */
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

export const badRequest = (message: string, details?: unknown) => new ApiError(400, 'bad_request', message, details);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);
export const conflict = (message: string, details?: unknown) => new ApiError(409, 'conflict', message, details);

/** Whether a change a 503 interrupted was made: `no`, `yes`, or `unknown` (it could not be confirmed). */
export type Applied = 'no' | 'unknown' | 'yes';

export interface UnavailableDetails {
  /** The dependency that does not answer; left out when neither is known to be down. */
  dependency?: Dependency;
  /** Only on writes. */
  applied?: Applied;
  /** The patch a write concerned, and the request that tells whether it was applied. */
  patchId?: string;
  check?: string;
}

/** A 503: a dependency does not answer (docs/http-api.md, "Errors"). */
export const unavailable = (message: string, details: UnavailableDetails, cause?: unknown) =>
  new ApiError(503, 'unavailable', message, details, cause);

/** "PostgreSQL is unavailable (connection refused)", capitalised to start a sentence unless `midSentence`. */
export function outageText(outage: Outage, midSentence = false): string {
  const text = `${DEPENDENCY_NAMES[outage.dependency]} is unavailable (${outage.reason})`;
  return midSentence ? text : text.charAt(0).toUpperCase() + text.slice(1);
}

const isRead = (method: string) => method === 'GET' || method === 'HEAD';

/**
 * The 503 of an outage a handler did not account for itself. A read changed nothing; a write
 * may have been applied before the dependency stopped answering, so it says it could not be
 * confirmed.
 */
export function outageError(outage: Outage, method: string, cause?: unknown): ApiError {
  const { dependency } = outage;
  if (isRead(method)) return unavailable(`${outageText(outage)}; try again shortly`, { dependency }, cause);
  return unavailable(
    `${outageText(outage)}: the change could not be confirmed; it may or may not have been applied. Check before sending it again`,
    { dependency, applied: 'unknown' },
    cause,
  );
}

/** The 503 of an outage before anything was changed (a write's own checks, the token lookup). */
export function outageBeforeChange(outage: Outage, method: string, cause?: unknown, what = ''): ApiError {
  const { dependency } = outage;
  const text = `${outageText(outage)}${what}`;
  if (isRead(method)) return unavailable(`${text}; try again shortly`, { dependency }, cause);
  return unavailable(`${text}; nothing was changed. Try again shortly`, { dependency, applied: 'no' }, cause);
}

/** The gRPC status of an unknown workflow (a history read answers with it, not WorkflowNotFoundError). */
const GRPC_NOT_FOUND = 5;

/** Temporal knows no such workflow (never started, or past retention). */
export const isWorkflowNotFound = (err: unknown) =>
  err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && (err.code as number) === GRPC_NOT_FOUND);

/**
 * A 400 naming each bad field. Inside a list of records the record is named too, by position and
 * by its own id where it has one: `body.assets[3] (web-01).os.version`.
 */
export function validationError(where: 'body' | 'query' | 'params', error: z.ZodError, raw?: unknown): ApiError {
  const details = error.issues.map((issue) => ({
    path: describePath(where, issue.path, raw),
    message: issue.message,
  }));
  const first = details[0];
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  return new ApiError(400, 'invalid_request', `Invalid request ${where}: ${first?.path}: ${first?.message}${more}`, details);
}

function describePath(where: string, path: PropertyKey[], raw: unknown): string {
  let text = where;
  let node = raw;
  for (const key of path) {
    node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined;
    if (typeof key === 'number') {
      const id = recordId(node);
      text += `[${key}]${id ? ` (${id})` : ''}`;
    } else {
      text += `.${String(key)}`;
    }
  }
  return text;
}

function recordId(node: unknown): string | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  const r = node as { id?: unknown; cveID?: unknown; cveMetadata?: { cveId?: unknown } };
  const id = r.id ?? r.cveID ?? r.cveMetadata?.cveId;
  if (typeof id !== 'string') return undefined;
  // a record's id names it in the message; a huge bad id is not echoed whole
  return id.length > MAX_ID_ECHO ? `${id.slice(0, MAX_ID_ECHO)}… (${id.length} characters)` : id;
}

const MAX_ID_ECHO = 100;

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found', `No route for ${req.method} ${req.path}`));
};

/** Maps every error to the error shape; only a fault of ours becomes a 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const apiError = toApiError(err, req.method);
    if (apiError.code === 'unavailable') {
      // an outage is not a fault of ours: one line naming it, not a stack per request
      const cause = causeText(err === apiError ? apiError.cause : err);
      logger.warn({ method: req.method, path: req.path, details: apiError.details, cause }, apiError.message);
    } else if (apiError.status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    res.status(apiError.status).json({
      error: { code: apiError.code, message: apiError.message, ...(apiError.details === undefined ? {} : { details: apiError.details }) },
    });
  };
}

/** An error's message and its causes', e.g. "Failed to query Workflow: 14 UNAVAILABLE: No connection established". */
function causeText(err: unknown): string | undefined {
  const parts: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) parts.push(e.message);
  return parts.length > 0 ? parts.join(': ') : undefined;
}

function toApiError(err: unknown, method: string): ApiError {
  if (err instanceof ApiError) return err;
  const outage = outageOf(err);
  if (outage) return outageError(outage, method, err);
  // body-parser's errors carry `type` and `status`
  const bodyError = err as { type?: string; status?: number; message?: string; limit?: number };
  switch (bodyError.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'malformed_json', `The request body is not valid JSON: ${bodyError.message}`);
    case 'entity.too.large':
      return new ApiError(413, 'payload_too_large', `The request body is larger than the limit of ${bodyError.limit} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError(415, 'unsupported_media_type', bodyError.message ?? 'unsupported encoding');
  }
  if (typeof bodyError.status === 'number' && bodyError.status >= 400 && bodyError.status < 500) {
    return new ApiError(bodyError.status, 'bad_request', bodyError.message ?? 'bad request');
  }
  return new ApiError(500, 'internal', 'Internal error; the server log has the details');
}
