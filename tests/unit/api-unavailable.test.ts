/**
 * Which dependency an error says is down (src/api/unavailable.ts), and the deadline helper of
 * the API (src/api/deadlines.ts). The connection errors are real ones: pg and gRPC clients
 * pointed at a closed port and at a socket that never answers, in this process.
 */
import net from 'node:net';
import {
  Connection,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { Client, DatabaseError, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withinDeadline, type LateOutcome } from '../../src/api/deadlines';
import { ApiError } from '../../src/api/errors';
import { outageOf } from '../../src/api/unavailable';

let closedPort: number;
/** Accepts connections and never says a word. */
let silent: net.Server;
let silentPort: number;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentPort = (silent.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

async function rejection(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

function sqlError(code: string, message = 'error'): DatabaseError {
  const err = new DatabaseError(message, message.length, 'error');
  err.code = code;
  return err;
}

/** The shape of @grpc/grpc-js's ServiceError (a code, details, metadata). */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

describe('PostgreSQL outages', () => {
  it('a refused connection', async () => {
    const client = new Client({ host: '127.0.0.1', port: closedPort, user: 'x', database: 'x', password: 'x' });
    const err = await rejection(client.connect());
    expect(outageOf(err)).toEqual({ dependency: 'postgres', reason: 'connection refused' });
  });

  it("no connection in time: the pool's timeout and the client's", async () => {
    const pool = new Pool({ host: '127.0.0.1', port: silentPort, user: 'x', database: 'x', password: 'x', connectionTimeoutMillis: 200 });
    try {
      const err = await rejection(pool.query('SELECT 1'));
      expect(outageOf(err)).toEqual({ dependency: 'postgres', reason: 'no connection in time' });
    } finally {
      await pool.end();
    }
    expect(outageOf(new Error('timeout exceeded when trying to connect'))).toMatchObject({ dependency: 'postgres' });
    expect(outageOf(new Error('Connection terminated due to connection timeout'))).toMatchObject({ reason: 'no connection in time' });
  });

  it('a connection lost, and a query without an answer', () => {
    expect(outageOf(new Error('Connection terminated unexpectedly'))).toEqual({ dependency: 'postgres', reason: 'connection lost' });
    expect(outageOf(new Error('Client has encountered a connection error and is not queryable'))).toMatchObject({
      reason: 'connection lost',
    });
    expect(outageOf(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toMatchObject({ reason: 'connection lost' });
    expect(outageOf(new Error('Query read timeout'))).toEqual({ dependency: 'postgres', reason: 'no answer in time' });
  });

  it('a server shutting down, starting, crashed or full, and a statement timeout', () => {
    expect(outageOf(sqlError('57P01', 'terminating connection due to administrator command'))).toEqual({
      dependency: 'postgres',
      reason: 'shutting down',
    });
    expect(outageOf(sqlError('57P03', 'the database system is starting up'))).toMatchObject({ dependency: 'postgres' });
    expect(outageOf(sqlError('57P02'))).toMatchObject({ reason: 'crashed' });
    expect(outageOf(sqlError('53300'))).toMatchObject({ reason: 'too many connections' });
    expect(outageOf(sqlError('08006'))).toMatchObject({ reason: 'connection failed' });
    expect(outageOf(sqlError('57014', 'canceling statement due to statement timeout'))).toMatchObject({ reason: 'no answer in time' });
  });

  it('every address of a host refused (AggregateError), and a wrapped cause', () => {
    const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(outageOf(new AggregateError([refused(), refused()], 'all failed'))).toMatchObject({ dependency: 'postgres' });
    expect(outageOf(new Error('could not load', { cause: refused() }))).toMatchObject({ reason: 'connection refused' });
  });

  it('a statement that fails on its own merits is not an outage', () => {
    expect(outageOf(sqlError('23505', 'duplicate key value'))).toBeUndefined();
    expect(outageOf(sqlError('42P01', 'relation does not exist'))).toBeUndefined();
    expect(outageOf(sqlError('42501', 'insufficient_privilege'))).toBeUndefined();
    expect(outageOf(new Error('boom'))).toBeUndefined();
    expect(outageOf('ECONNREFUSED')).toBeUndefined();
    expect(outageOf(undefined)).toBeUndefined();
  });
});

describe('Temporal outages', () => {
  const noRetries = [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 1 }))];

  it('UNAVAILABLE from a server that is not there', async () => {
    const connection = Connection.lazy({ address: `127.0.0.1:${closedPort}`, interceptors: noRetries });
    try {
      const err = await rejection(connection.workflowService.getSystemInfo({}));
      expect(outageOf(err)).toEqual({ dependency: 'temporal', reason: 'unreachable' });
    } finally {
      await connection.close();
    }
  });

  it('DEADLINE_EXCEEDED from a server that does not answer', async () => {
    const connection = Connection.lazy({ address: `127.0.0.1:${silentPort}`, interceptors: noRetries });
    try {
      const err = await rejection(connection.withDeadline(Date.now() + 300, () => connection.workflowService.getSystemInfo({})));
      expect(outageOf(err)).toEqual({ dependency: 'temporal', reason: 'no answer in time' });
    } finally {
      await connection.close();
    }
  });

  it('the client errors that wrap them', () => {
    const unavailable = grpcError(14, 'No connection established');
    expect(outageOf(new ServiceError('Failed to query workflow', { cause: unavailable }))).toEqual({
      dependency: 'temporal',
      reason: 'unreachable',
    });
    expect(outageOf(new WorkflowUpdateRPCTimeoutOrCancelledError('timeout', { cause: grpcError(4, 'Deadline exceeded') }))).toMatchObject({
      dependency: 'temporal',
      reason: 'no answer in time',
    });
    expect(outageOf(new WorkflowUpdateRPCTimeoutOrCancelledError('timeout'))).toMatchObject({ dependency: 'temporal' });
  });

  it('a query no worker is there to answer names the worker', () => {
    const noPoller = grpcError(9, 'no poller seen for task queue recently, worker may be down');
    expect(outageOf(new ServiceError('Failed to query Workflow', { cause: noPoller }))).toEqual({
      dependency: 'worker',
      reason: 'no worker polls the task queue',
    });
  });

  it('what Temporal answers on its own merits is not an outage', () => {
    expect(outageOf(grpcError(5, 'workflow not found'))).toBeUndefined();
    expect(outageOf(grpcError(9, 'workflow task failure'))).toBeUndefined();
    expect(outageOf(new ServiceError('Failed', { cause: grpcError(3, 'invalid argument') }))).toBeUndefined();
    expect(outageOf(new WorkflowNotFoundError('not found', 'patch-x', undefined))).toBeUndefined();
  });
});

describe('withinDeadline', () => {
  const lateError = new ApiError(503, 'unavailable', 'too late');

  it('settles like the work when it is in time', async () => {
    await expect(
      withinDeadline(
        Promise.resolve(7),
        50,
        () => Promise.resolve(lateError),
        () => undefined,
      ),
    ).resolves.toBe(7);
    const failure = new Error('own failure');
    await expect(
      withinDeadline(
        Promise.reject(failure),
        50,
        () => Promise.resolve(lateError),
        () => undefined,
      ),
    ).rejects.toBe(failure);
  });

  it("answers with late()'s error, and tells how the work ended afterwards", async () => {
    const outcomes: LateOutcome[] = [];
    let finish!: (value: string) => void;
    const work = new Promise<string>((resolve) => (finish = resolve));
    const started = Date.now();
    await expect(
      withinDeadline(
        work,
        30,
        () => Promise.resolve(lateError),
        (o) => outcomes.push(o),
      ),
    ).rejects.toBe(lateError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    finish('done');
    await work;
    await new Promise((resolve) => setImmediate(resolve));
    expect(outcomes).toEqual([{ ok: true }]);
  });

  it('goes on waiting while late() says so, and asks it again', async () => {
    const asked: number[] = [];
    const late = (elapsed: number) => {
      asked.push(elapsed);
      return Promise.resolve(asked.length < 3 ? undefined : lateError);
    };
    await expect(withinDeadline(new Promise(() => undefined), 20, late, () => undefined)).rejects.toBe(lateError);
    expect(asked).toHaveLength(3);
    expect(asked[2]!).toBeGreaterThan(asked[0]!);
  });

  it('the work wins when it ends while late() is still looking', async () => {
    let finish!: (value: string) => void;
    const work = new Promise<string>((resolve) => (finish = resolve));
    const late = () =>
      new Promise<Error>((resolve) => {
        finish('in time after all');
        setTimeout(() => resolve(lateError), 20);
      });
    await expect(withinDeadline(work, 10, late, () => expect.fail('not late'))).resolves.toBe('in time after all');
  });
});
