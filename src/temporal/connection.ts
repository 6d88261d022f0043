import fs from 'node:fs';
import { Connection, type ConnectionOptions } from '@temporalio/client';
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

export function connectClient(target: TemporalTarget): Promise<Connection> {
  return Connection.connect(connectionOptions(target));
}

export function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(target));
}
