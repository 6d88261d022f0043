import fs from 'node:fs';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config';

export const TASK_QUEUE = 'patchflow';

export interface TemporalTarget {
  address: string;
  namespace: string;
  tls?: Config['temporal']['tls'];
  apiKey?: string;
}

/** Connection options for a self-hosted cluster (mTLS) or Temporal Cloud (mTLS or API key). */
function connectionOptions(target: TemporalTarget) {
  const read = (file?: string) => (file ? fs.readFileSync(file) : undefined);
  const { tls } = target;
  const certPair = tls?.certPath && tls.keyPath ? { crt: read(tls.certPath)!, key: read(tls.keyPath)! } : undefined;
  const tlsOptions =
    tls || target.apiKey
      ? {
          serverNameOverride: tls?.serverName,
          serverRootCACertificate: read(tls?.caPath),
          clientCertPair: certPair,
        }
      : undefined;
  return { address: target.address, tls: tlsOptions, apiKey: target.apiKey } satisfies ConnectionOptions;
}

/**
 * The API's connection: it answers people, so it gives up sooner than the SDK's defaults and
 * comes back sooner after an outage (docs/http-api.md, "Errors"). A call the server cannot take
 * (UNAVAILABLE and the like) is sent 5 times over about 2 s, not 10 over about 20 s; and while
 * the server is away the channel tries to reconnect at least every 2 s (gRPC's default backoff
 * grows to 2 minutes, which would keep the API failing that long after the server is back).
 */
export function connectApiClient(target: TemporalTarget): Promise<Connection> {
  return Connection.connect({
    ...connectionOptions(target),
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 5 }))],
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 500, 'grpc.max_reconnect_backoff_ms': 2000 },
  });
}

export function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(target));
}
