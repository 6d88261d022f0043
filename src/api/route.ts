/**
 * A route is declared once — method, path, who may call it, zod schemas, handler — and that one
 * declaration both mounts the express handler (validating with the schemas) and describes the
 * operation in the OpenAPI document. Every non-GET call of an authenticated user is audited.
 */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { type z } from 'zod';
import type { Role } from '../domain/roles';
import { auditBody, type AuditEntry } from '../db/audit';
import type { User } from '../db/users';
import { ApiError, validationError } from './errors';

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
}

export const DEFAULT_BODY_LIMIT = '1mb';

/** The raw size of each parsed request body, for the audit trail. */
const bodyBytes = new WeakMap<object, number>();

export function mountRoutes(router: Router, routes: RouteSpec[], { authenticate, audit }: MountOptions) {
  for (const route of routes) {
    const handlers: RequestHandler[] = [];
    // who is calling comes first: nobody's body is parsed before their token is checked
    if (route.access !== 'public') {
      handlers.push(async (req, res, next) => {
        const user = await authenticate(req);
        if (!user) {
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
      handlers.push(express.json({ limit, verify }));
      if (route.csv) handlers.push(express.text({ type: 'text/csv', limit, verify }));
      handlers.push((req, _res, next) => {
        const accepted = route.csv ? ['application/json', 'text/csv'] : ['application/json'];
        if (!req.is(accepted)) {
          throw new ApiError(415, 'unsupported_media_type', `The request body must be ${accepted.join(' or ')}`);
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
      const reply = await route.handler(ctx);
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
      if (typeof reply.body === 'string') res.status(reply.status ?? 200).send(reply.body);
      else res.status(reply.status ?? 200).json(reply.body);
    });
    router[route.method](route.path, ...handlers);
  }
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

function parse(where: 'body' | 'params' | 'query', schema: z.ZodType | undefined, value: unknown) {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(where, result.error, value);
  return result.data;
}
