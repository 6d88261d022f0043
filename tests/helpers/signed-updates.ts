/**
 * Updates sent straight to a patch workflow, signed as the API signs them
 * (src/domain/signed-update.ts) with the test run's update key (TEST_KEYS.updates), which every
 * patch a test starts trusts (`TRUSTED_KEYS` for patchStartOptions).
 *
 * The signature's time must be within minutes of the workflow's clock. On the dev server that is
 * the real clock; on the time-skipping server it runs ahead, so a signer there reads the server's
 * time: `updateSigner(() => env.currentTimeMs())`.
 */
import crypto from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { signUpdate, type UpdateSignature } from '../../src/domain/signed-update';
import type { SigningKey } from '../../src/signing/keys';
import { TEST_KEYS } from './keys';

/** The keys a patch started by a test trusts. */
export const TRUSTED_KEYS = [TEST_KEYS.updates.publicKey];

export const newNonce = () => crypto.randomBytes(16).toString('hex');

/** `patch-<id>` → `<id>`. */
export function patchIdOf(workflowId: string): string {
  if (!workflowId.startsWith('patch-')) throw new RangeError(`${workflowId} is not a patch workflow`);
  return workflowId.slice('patch-'.length);
}

/** `input` signed for `update` of patch `patchId`, at `at` (default now), by `key` (default the test run's). */
export function signedInput<I extends object>(
  patchId: string,
  update: string | { name: string },
  input: I,
  options: { at?: number; key?: SigningKey; nonce?: string } = {},
): I & { signature: UpdateSignature } {
  const key = options.key ?? TEST_KEYS.updates;
  return signUpdate(input, {
    patchId,
    update: typeof update === 'string' ? update : update.name,
    secretKey: key.secretKey,
    publicKey: key.publicKey,
    at: options.at ?? Date.now(),
    nonce: options.nonce ?? newNonce(),
  });
}

export type SignedExecute = <R, I extends object>(handle: WorkflowHandle, update: UpdateDefinition<R, [I]>, input: I) => Promise<R>;

/** `executeUpdate` with the input signed at the time `clock` tells (the real clock by default). */
export function updateSigner(clock: () => number | Promise<number> = () => Date.now()): SignedExecute {
  return async (handle, update, input) => {
    const args = signedInput(patchIdOf(handle.workflowId), update, input, { at: await clock() });
    return handle.executeUpdate(update, { args: [args] });
  };
}

/** Signed with the real clock: for the dev server. */
export const executeSigned: SignedExecute = updateSigner();
