import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
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

export function validationError(where: 'body' | 'query' | 'params', error: z.ZodError): ApiError {
  const details = error.issues.map((issue) => ({
    path: [where, ...issue.path].join('.'),
    message: issue.message,
  }));
  const first = details[0];
  return new ApiError(400, 'invalid_request', `Invalid request ${where}: ${first?.path}: ${first?.message}`, details);
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
