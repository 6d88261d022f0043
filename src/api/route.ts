/**
 * A route is declared once — method, path, who may call it, zod schemas, handler — and that one
 * declaration both mounts the express handler (validating with the schemas) and describes the
 * operation in the OpenAPI document. Every non-GET call of an authenticated user is audited, and
 * every 401 (docs/http-api.md, "Audit trail").
 */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { type z } from 'zod';
import type { Role } from '../domain/roles';
import { auditBody, type AuditEntry } from '../db/audit';
import type { User } from '../db/users';
import type { Logger } from '../logger';
import { withinDeadline, type Deadlines, type LateOutcome } from './deadlines';
import { ApiError, outageBeforeChange, outageText, unavailable, validationError } from './errors';
import { outageOf, type Outage } from './unavailable';

export type Access = 'public' | 'authenticated' | Role[];

export interface RouteContext<B, P, Q> {
  body: B;
  params: P;
  query: Q;
  /** Undefined only on public routes. */
  user: User;
  req: Request;
  res: Response;
}

export interface Reply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

type Schema = z.ZodType | undefined;
type Out<S extends Schema> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteSpec<B extends Schema = Schema, P extends Schema = Schema, Q extends Schema = Schema> {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  access: Access;
  body?: B;
  /** Largest accepted body (default 1mb); feeds need more. */
  bodyLimit?: string;
  /**
   * For routes whose work is long by nature (bulk imports, the history of a long patch): how long
   * the handler may run while its dependencies answer (default `Deadlines.maxRequestMs`) ...
   */
  timeoutMs?: number;
  /** ... and by when its Temporal calls must have answered (default `Deadlines.temporalMs`). */
  temporalMs?: number;
  /** Also accept `text/csv`, converted to the JSON shape `body` validates. */
  csv?: (text: string) => unknown;
  params?: P;
  query?: Q;
  /** `schema` is the JSON body; `media`, other media types the response may come in. */
  responses: Record<number, { description: string; schema?: z.ZodType; media?: Record<string, z.ZodType> }>;
  handler: (ctx: RouteContext<Out<B>, Out<P>, Out<Q>>) => Promise<Reply>;
}

export function defineRoute<B extends Schema, P extends Schema, Q extends Schema>(spec: RouteSpec<B, P, Q>): RouteSpec {
  return spec;
}

/** Resolves the caller from the bearer token (set by the auth middleware). */
export type Authenticator = (req: Request) => Promise<User | undefined>;

/**
 * Keeps one API mutation in the audit trail. Called after the response has gone out; it must
 * handle (log) its own failures and never reject.
 */
export type AuditRecorder = (entry: AuditEntry) => Promise<void>;

export interface MountOptions {
  authenticate: Authenticator;
  audit: AuditRecorder;
  deadlines: Deadlines;
  /** Runs a handler with a deadline on every Temporal call it makes (the client's `withDeadline`). */
  temporalDeadline: <T>(deadline: Date, fn: () => Promise<T>) => Promise<T>;
  /** The dependencies that do not answer within `ms` right now (a request ran out of time: which one held it?). */
  whatIsDown: (ms: number) => Promise<Outage[]>;
  logger: Logger;
}

export const DEFAULT_BODY_LIMIT = '1mb';

/** JSON bodies nested deeper than this are refused (400) before zod, the audit or PostgreSQL walk them. */
export const MAX_BODY_DEPTH = 64;

/** 401s recorded one by one per minute and API process; past it they are counted (see `unauthenticatedAudit`). */
export const UNAUTHENTICATED_AUDITS_PER_MINUTE = 60;

/** Longest path a 401's audit record keeps (the path is the caller's to choose). */
const UNAUTHENTICATED_PATH_CHARS = 256;

/** The raw size of each parsed request body, for the audit trail. */
const bodyBytes = new WeakMap<object, number>();

export function mountRoutes(router: Router, routes: RouteSpec[], options: MountOptions) {
  const { audit, deadlines } = options;
  const authenticate = checkingToken(options);
  const auditUnauthenticated = unauthenticatedAudit(audit, options.logger);
  for (const route of routes) {
    const handlers: RequestHandler[] = [];
    // who is calling comes first: nobody's body is parsed before their token is checked
    if (route.access !== 'public') {
      handlers.push(async (req, res, next) => {
        const user = await authenticate(req);
        if (!user) {
          auditUnauthenticated(req, res);
          throw new ApiError(401, 'unauthenticated', 'A valid bearer token is required (Authorization: Bearer <token>)');
        }
        // every non-GET call of a known user is audited with its final status, refusals included
        if (route.method !== 'get') auditOnFinish(req, res, user, audit);
        res.locals.user = requireRole(user, route.access as Exclude<Access, 'public'>);
        next();
      });
    }
    if (route.body) {
      const limit = route.bodyLimit ?? DEFAULT_BODY_LIMIT;
      // the raw size, for the audit trail (bodies over its limit are stored as a size only)
      const verify = (req: object, _res: unknown, buf: Buffer) => {
        bodyBytes.set(req, buf.length);
      };
      // `limit` counts the bytes after gzip, deflate or br are undone (body-parser hands raw-body
      // the decompression stream), so a compressed body cannot inflate past it: 413
      handlers.push(express.json({ limit, verify }));
      if (route.csv) handlers.push(express.text({ type: 'text/csv', limit, verify }));
      handlers.push((req, _res, next) => {
        const accepted = route.csv ? ['application/json', 'text/csv'] : ['application/json'];
        if (!req.is(accepted)) {
          throw new ApiError(415, 'unsupported_media_type', `The request body must be ${accepted.join(' or ')}`);
        }
        // JSON.parse itself is not recursive; what comes after it (zod, the audit, pg) is
        if (req.is('application/json') && nestedDeeperThan(req.body, MAX_BODY_DEPTH)) {
          throw new ApiError(400, 'invalid_request', `The request body is nested deeper than ${MAX_BODY_DEPTH} levels`, {
            maxDepth: MAX_BODY_DEPTH,
          });
        }
        next();
      });
    }
    handlers.push(async (req, res) => {
      const raw: unknown = route.csv && req.is('text/csv') ? route.csv(String(req.body ?? '')) : req.body;
      const ctx = {
        body: parse('body', route.body, raw),
        params: parse('params', route.params, req.params),
        query: parse('query', route.query, req.query),
        user: res.locals.user as User,
        req,
        res,
      };
      const limits = { maxMs: route.timeoutMs ?? deadlines.maxRequestMs, temporalMs: route.temporalMs ?? deadlines.temporalMs };
      const reply = await withinDeadline(
        options.temporalDeadline(new Date(Date.now() + limits.temporalMs), () => route.handler(ctx)),
        deadlines.requestMs - deadlines.probeMs,
        (elapsed) => outOfTime(req, elapsed, limits, options),
        (outcome) => logLate(options.logger, req, outcome, 'its handler'),
      );
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
      if (typeof reply.body === 'string') res.status(reply.status ?? 200).send(reply.body);
      else res.status(reply.status ?? 200).json(reply.body);
    });
    router[route.method](route.path, ...handlers);
  }
}

/**
 * The token check with its deadline: only PostgreSQL is involved, and when it does not answer the
 * caller learns that nothing was done (a 503, not a 500).
 */
function checkingToken({ authenticate, deadlines, logger }: MountOptions): Authenticator {
  return async (req) => {
    try {
      return await withinDeadline(
        authenticate(req),
        deadlines.tokenMs,
        () => Promise.resolve(tokenUnchecked({ dependency: 'postgres', reason: `no answer within ${seconds(deadlines.tokenMs)}` }, req)),
        (outcome) => logLate(logger, req, outcome, 'its token check'),
      );
    } catch (err) {
      if (err instanceof ApiError) throw err;
      const outage = outageOf(err);
      if (outage) throw tokenUnchecked(outage, req, err);
      throw err;
    }
  };
}

const tokenUnchecked = (outage: Outage, req: Request, cause?: unknown) =>
  outageBeforeChange(outage, req.method, cause, ', so the bearer token could not be checked');

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/**
 * A handler still runs after `elapsed` ms. When a dependency it may be waiting for does not
 * answer, the 503 naming it; when they answer, nothing (the request is only slow) until `maxMs`.
 * It may be waiting for PostgreSQL at any time, for Temporal only until its calls' deadline
 * (after it they fail at once, with their own 503). The handler is not stopped; what it does
 * after a 503 is logged.
 */
async function outOfTime(
  req: Request,
  elapsed: number,
  limits: { maxMs: number; temporalMs: number },
  { whatIsDown, deadlines }: MountOptions,
): Promise<ApiError | undefined> {
  const down = (await whatIsDown(deadlines.probeMs)).filter((o) => o.dependency === 'postgres' || elapsed < limits.temporalMs);
  const took = elapsed + deadlines.probeMs;
  if (down.length === 0 && took < limits.maxMs) return undefined;
  const message =
    down.length === 0
      ? `The request did not finish within ${seconds(took)}`
      : `${down.map((o) => outageText(o)).join('; ')}: the request did not finish within ${seconds(took)}`;
  const dependency = down[0]?.dependency;
  if (req.method === 'GET' || req.method === 'HEAD') return unavailable(`${message}; try again shortly`, { dependency });
  return unavailable(`${message}. The change could not be confirmed; it may or may not have been applied. Check before sending it again`, {
    dependency,
    applied: 'unknown',
  });
}

/** What became of work a 503 answered for: for a write's handler, whether the change was made after all. */
function logLate(logger: Logger, req: Request, outcome: LateOutcome, what: string) {
  const about = { method: req.method, path: req.originalUrl.split('?')[0] };
  if (outcome.ok) logger.warn(about, `after its 503 (out of time), ${what} finished`);
  else logger.warn({ ...about, err: outcome.error }, `after its 503 (out of time), ${what} failed`);
}

function requireRole(user: User, access: Exclude<Access, 'public'>): User {
  if (access !== 'authenticated' && !access.some((role) => user.roles.includes(role))) {
    throw new ApiError(403, 'forbidden', `This needs one of the roles: ${access.join(', ')}`, {
      requiredRoles: access,
      yourRoles: user.roles,
    });
  }
  return user;
}

/**
 * Records the call once its response is finished, with the status the client got. The body is
 * what the client sent (only bodies that were read: a 403 is refused before its body is parsed).
 * The bearer token is never part of it: it travels in the Authorization header.
 */
function auditOnFinish(req: Request, res: Response, user: User, audit: AuditRecorder) {
  res.once('finish', () => {
    void audit({
      actorId: user.id,
      actorName: user.name,
      method: req.method,
      path: req.originalUrl.split('?')[0]!,
      status: res.statusCode,
      body: auditBody(req.body, bodyBytes.get(req)),
    });
  });
}

/**
 * Records each 401 once its response is finished: no user, so the actor is `anonymous` (no
 * token sent) or `unknown` (a token that names no user, or has expired); the method, the path
 * without its query, the status; never a body (none was read) nor the token. A flood of 401s
 * writes at most UNAUTHENTICATED_AUDITS_PER_MINUTE records a minute per API process; the rest are
 * counted, and the count is recorded (actor `unauthenticated-flood`) with the next minute's
 * first 401, so the trail still shows how many there were.
 */
function unauthenticatedAudit(audit: AuditRecorder, logger: Logger) {
  let windowStart = 0;
  let recorded = 0;
  let notRecorded = 0;
  let notRecordedSince = '';
  return (req: Request, res: Response) => {
    const now = Date.now();
    if (now - windowStart >= 60_000) {
      if (notRecorded > 0) {
        void audit({
          actorId: 'unauthenticated-flood',
          actorName: '(unauthenticated flood)',
          method: '*',
          path: '*',
          status: 401,
          body: { notRecorded, since: notRecordedSince, until: new Date(now).toISOString() },
        });
      }
      windowStart = now;
      recorded = 0;
      notRecorded = 0;
    }
    if (recorded >= UNAUTHENTICATED_AUDITS_PER_MINUTE) {
      if (notRecorded++ === 0) {
        notRecordedSince = new Date(now).toISOString();
        logger.warn({ perMinute: UNAUTHENTICATED_AUDITS_PER_MINUTE }, 'more 401s than the audit records one by one; counting the rest');
      }
      return;
    }
    recorded++;
    const anonymous = req.get('authorization') === undefined;
    const path = req.originalUrl.split('?')[0]!;
    res.once('finish', () => {
      void audit({
        actorId: anonymous ? 'anonymous' : 'unknown',
        actorName: anonymous ? '(anonymous)' : '(unknown token)',
        method: req.method,
        path: path.length > UNAUTHENTICATED_PATH_CHARS ? `${path.slice(0, UNAUTHENTICATED_PATH_CHARS)}…` : path,
        status: res.statusCode,
        body: null,
      });
    });
  };
}

/** Whether a parsed JSON value nests objects and arrays more than `limit` deep; no recursion. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const pending: { value: object; depth: number }[] = [];
  if (value !== null && typeof value === 'object') pending.push({ value, depth: 1 });
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (next.depth > limit) return true;
    const children: unknown[] = Array.isArray(next.value) ? next.value : Object.values(next.value as Record<string, unknown>);
    for (const child of children) {
      if (child !== null && typeof child === 'object') pending.push({ value: child, depth: next.depth + 1 });
    }
  }
  return false;
}

function parse(where: 'body' | 'params' | 'query', schema: z.ZodType | undefined, value: unknown) {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(where, result.error, value);
  return result.data;
}
