/**
 * Ed25519 signatures that also run inside workflow code: pure JavaScript and synchronous
 * (update validators cannot await, and the workflow sandbox has no WebCrypto). Keys and
 * signatures travel as lowercase hex, which needs no Buffer.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import canonicalize from 'canonicalize';

// @noble/ed25519 hashes with WebCrypto (async) unless it is given a synchronous SHA-512
ed.hashes.sha512 = sha512;

const HEX_KEY = /^[0-9a-f]{64}$/;
const HEX_SIGNATURE = /^[0-9a-f]{128}$/;

/** A public key: 32 bytes as 64 hex digits. */
export const isPublicKey = (value: unknown): value is string => typeof value === 'string' && HEX_KEY.test(value);

/** The bytes that are signed: RFC 8785 (JCS) canonical JSON, so signer and verifier agree on every byte. */
export function canonicalBytes(value: unknown): Uint8Array {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('nothing to sign');
  return utf8ToBytes(text);
}

export function signValue(value: unknown, secretKey: Uint8Array): string {
  return bytesToHex(ed.sign(canonicalBytes(value), secretKey));
}

/** False for anything that is not a valid signature of `value` by `publicKey`, malformed input included. */
export function verifyValue(value: unknown, signature: unknown, publicKey: unknown): boolean {
  if (typeof signature !== 'string' || !HEX_SIGNATURE.test(signature) || !isPublicKey(publicKey)) return false;
  try {
    return ed.verify(hexToBytes(signature), canonicalBytes(value), hexToBytes(publicKey));
  } catch {
    return false;
  }
}

export function publicKeyOf(secretKey: Uint8Array): string {
  return bytesToHex(ed.getPublicKey(secretKey));
}

/** Outside workflows only: it draws from the platform's random source. */
export function newSecretKey(): Uint8Array {
  return ed.utils.randomSecretKey();
}

export { bytesToHex, hexToBytes };
