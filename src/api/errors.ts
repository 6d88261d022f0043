import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { type z } from 'zod';
import type { Logger } from '../logger';

/** An error the client can act on; rendered as `{"error": {code, message, details}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: unknown) => new ApiError(400, 'bad_request', message, details);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);
export const conflict = (message: string, details?: unknown) => new ApiError(409, 'conflict', message, details);

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
  return typeof id === 'string' ? id : undefined;
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, 'not_found', `No route for ${req.method} ${req.path}`));
};

/** Maps every error to the error shape; only a fault of ours becomes a 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) logger.error({ err, method: req.method, path: req.path }, 'request failed');
    res.status(apiError.status).json({
      error: { code: apiError.code, message: apiError.message, ...(apiError.details === undefined ? {} : { details: apiError.details }) },
    });
  };
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
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
