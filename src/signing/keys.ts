/**
 * patchflow's signing keys: one for the decisions the API sends to patch workflows
 * (`updates`), one for the work orders the worker sends to host agents (`work-orders`).
 * Each comes from its environment variable (PATCHFLOW_UPDATE_SIGNING_KEY,
 * PATCHFLOW_WORK_ORDER_SIGNING_KEY: 64 hex digits, the Ed25519 secret key; src/config.ts), or from
 * `<dataDir>/keys/<name>.key`, created on first use and readable by its owner only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bytesToHex, hexToBytes, newSecretKey, publicKeyOf } from './ed25519';

export type KeyName = 'updates' | 'work-orders';

export interface SigningKey {
  secretKey: Uint8Array;
  /** Hex: what verifiers are given. */
  publicKey: string;
}

const SECRET_HEX = /^[0-9a-f]{64}$/i;

export function signingKeyFrom(secretHex: string): SigningKey {
  if (!SECRET_HEX.test(secretHex)) throw new Error('a signing key is 64 hex digits (32 bytes)');
  const secretKey = hexToBytes(secretHex.toLowerCase());
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

export function newSigningKey(): SigningKey {
  const secretKey = newSecretKey();
  return { secretKey, publicKey: publicKeyOf(secretKey) };
}

export function keyFile(dataDir: string, name: KeyName): string {
  return path.join(dataDir, 'keys', `${name}.key`);
}

/** The key given in the environment (`secretHex`) if there is one, else the data directory's (made on first use). */
export function loadSigningKey(name: KeyName, dataDir: string, secretHex?: string): SigningKey {
  if (secretHex) return signingKeyFrom(secretHex);
  const file = keyFile(dataDir, name);
  if (fs.existsSync(file)) return signingKeyFrom(fs.readFileSync(file, 'utf8').trim());
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = newSigningKey();
  // `wx`: two processes starting at once never overwrite each other's key
  try {
    fs.writeFileSync(file, `${bytesToHex(key.secretKey)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return signingKeyFrom(fs.readFileSync(file, 'utf8').trim());
    throw err;
  }
  return key;
}
