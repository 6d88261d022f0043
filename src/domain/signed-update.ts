/**
 * Signed updates (docs/security.md, "Decisions that cannot be forged"): the API signs every
 * update it sends to a patch workflow with Ed25519 over the patch id, the update's name, its
 * arguments (the actor included), a timestamp and a random nonce; each validator of the patch
 * workflow checks that signature against the keys the patch trusts before it looks at the actor.
 * Pure and synchronous (validators cannot await): the signer supplies the time and the nonce.
 */
import { isPublicKey, signValue, verifyValue } from '../signing/ed25519';

/** How far a signature's time may be from the workflow's clock, either way. */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;
/** Keys one patch trusts at most. */
export const MAX_TRUSTED_KEYS = 16;
/**
 * Accepted nonces kept at most (only those inside the window are kept): far above what people
 * send in ten minutes (the long-patch test sends about 12 a second), and it bounds the state.
 */
export const MAX_NONCES = 10_000;

const NONCE = /^[0-9a-f]{32}$/;
const SIGNATURE = /^[0-9a-f]{128}$/;

/** The signature an update's input carries beside its actor. */
export interface UpdateSignature {
  /** The signer's Ed25519 public key, 64 hex digits. */
  key: string;
  /** When it was signed, ISO 8601 in UTC. */
  at: string;
  /** 128 random bits as 32 hex digits: a patch accepts each once. */
  nonce: string;
  /** The Ed25519 signature of `signedContent(...)`'s canonical JSON, 128 hex digits. */
  value: string;
}

/** What is signed: the update's arguments bound to one patch, one update name, one moment and one nonce. */
export interface SignedContent {
  patchId: string;
  update: string;
  /** The update's input without its `signature`: the decision and the actor {id, name, roles}. */
  args: unknown;
  key: string;
  at: string;
  nonce: string;
}

/** Which update of which patch a signature is for. */
export interface UpdateTarget {
  patchId: string;
  update: string;
}

/** What a patch trusts, kept in its state (so it carries over continue-as-new). */
export interface UpdateTrust {
  /** The public keys whose signatures it accepts; null for a patch started before signed updates, which accepts unsigned ones. */
  keys: string[] | null;
  /** The nonces it accepted, with their signature's time (ms since the epoch), while that time is inside the window. */
  nonces: Record<string, number>;
}

export const SIGNATURE_REFUSALS = ['unsigned', 'malformed', 'untrusted-key', 'stale', 'replayed', 'too-many', 'bad-signature'] as const;
export type SignatureRefusalReason = (typeof SIGNATURE_REFUSALS)[number];

export interface SignatureRefusal {
  reason: SignatureRefusalReason;
  message: string;
}

export function signedContent(target: UpdateTarget, args: unknown, signature: Omit<UpdateSignature, 'value'>): SignedContent {
  return { patchId: target.patchId, update: target.update, args, key: signature.key, at: signature.at, nonce: signature.nonce };
}

/** The input without its signature: what `args` covers. */
function argsOf(input: object): Record<string, unknown> {
  const { signature: _signature, ...args } = input as Record<string, unknown>;
  return args;
}

/**
 * The input with its signature. `at` and `nonce` come from the caller: the API's clock and 128
 * bits of its random source (a signer in simulated time passes the workflow's clock).
 */
export function signUpdate<I extends object>(
  input: I,
  options: UpdateTarget & { secretKey: Uint8Array; publicKey: string; at: Date | number; nonce: string },
): I & { signature: UpdateSignature } {
  if (!NONCE.test(options.nonce)) throw new TypeError('a nonce is 32 lowercase hex digits');
  const args = argsOf(input);
  const unsigned = { key: options.publicKey, at: new Date(options.at).toISOString(), nonce: options.nonce };
  const value = signValue(signedContent(options, args, unsigned), options.secretKey);
  return { ...(args as I), signature: { ...unsigned, value } };
}

/** A patch started now trusts these keys; one started before signed updates had none in its request. */
export function initialTrust(trustedKeys: string[] | undefined): UpdateTrust {
  return { keys: trustedKeys ? [...trustedKeys] : null, nonces: {} };
}

/** Why a list of keys cannot be trusted, if it cannot. */
export function refuseKeyList(keys: unknown): string | undefined {
  if (!Array.isArray(keys) || keys.length === 0) return 'A patch trusts at least one key';
  if (keys.length > MAX_TRUSTED_KEYS) return `A patch trusts at most ${MAX_TRUSTED_KEYS} keys`;
  if (!keys.every(isPublicKey)) return 'Each key is an Ed25519 public key: 64 lowercase hex digits';
  if (new Set(keys).size !== keys.length) return 'Keys must not repeat';
  return undefined;
}

const refusal = (reason: SignatureRefusalReason, message: string): SignatureRefusal => ({ reason, message });

/**
 * Why the signature of `input` is refused for `target` at `nowMs`, or undefined when it is good:
 * present and well-formed, by a trusted key, inside the window, with a nonce not yet accepted,
 * and a valid Ed25519 signature of this patch's id, this update's name and these arguments.
 * Cheap checks first, the signature (about a millisecond) last.
 */
export function checkSignature(input: unknown, target: UpdateTarget, trust: UpdateTrust, nowMs: number): SignatureRefusal | undefined {
  const signature = (input as { signature?: unknown } | null | undefined)?.signature;
  if (signature === undefined || signature === null) {
    return refusal('unsigned', `The ${target.update} update is not signed: only patchflow's API records decisions in a patch`);
  }
  if (typeof signature !== 'object') return refusal('malformed', 'The signature is malformed');
  const { key, at, nonce, value } = signature as Record<string, unknown>;
  if (!isPublicKey(key) || typeof at !== 'string' || typeof nonce !== 'string' || !NONCE.test(nonce)) {
    return refusal('malformed', 'The signature is malformed: {key, at, nonce, value}');
  }
  if (typeof value !== 'string' || !SIGNATURE.test(value)) return refusal('malformed', 'The signature is malformed: value');
  const atMs = Date.parse(at);
  if (Number.isNaN(atMs)) return refusal('malformed', 'The signature is malformed: at');
  if (!(trust.keys ?? []).includes(key))
    return refusal('untrusted-key', `The update is signed by a key this patch does not trust (${key})`);
  if (Math.abs(nowMs - atMs) > SIGNATURE_WINDOW_MS) {
    return refusal('stale', `The signature's time ${at} is more than ${SIGNATURE_WINDOW_MS / 60_000} minutes from the patch's clock`);
  }
  if (Object.hasOwn(trust.nonces, nonce)) return refusal('replayed', 'This signed update was already accepted once');
  if (liveNonces(trust, nowMs) >= MAX_NONCES) {
    return refusal('too-many', `More than ${MAX_NONCES} signed updates in ${(2 * SIGNATURE_WINDOW_MS) / 60_000} minutes`);
  }
  const content = signedContent(target, argsOf(input as object), { key, at, nonce });
  if (!verifyValue(content, value, key)) {
    return refusal('bad-signature', `The signature does not match this ${target.update} update of patch ${target.patchId}`);
  }
  return undefined;
}

/** Nonces whose signature time is still inside the window: any older one would be refused as stale anyway. */
function liveNonces(trust: UpdateTrust, nowMs: number): number {
  let live = 0;
  for (const at of Object.values(trust.nonces)) if (at >= nowMs - SIGNATURE_WINDOW_MS) live++;
  return live;
}

/** Records an accepted update's nonce and forgets those that left the window (they could only come back stale). */
export function rememberNonce(trust: UpdateTrust, signature: UpdateSignature, nowMs: number): void {
  for (const [nonce, at] of Object.entries(trust.nonces)) if (at < nowMs - SIGNATURE_WINDOW_MS) delete trust.nonces[nonce];
  trust.nonces[signature.nonce] = Date.parse(signature.at);
}
