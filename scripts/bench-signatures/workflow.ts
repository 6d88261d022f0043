/**
 * The benchmark's own workflow (bundled by scripts/bench-signatures.ts, not part of the worker):
 * checks the given signed update inputs `rounds` times in one workflow task, as the patch
 * workflow's validators do.
 */
import { checkSignature, type UpdateTarget, type UpdateTrust } from '../../src/domain/signed-update';

export async function verifySignatures(inputs: unknown[], target: UpdateTarget, trust: UpdateTrust, nowMs: number, rounds: number) {
  let refused = 0;
  for (let round = 0; round < rounds; round++) for (const input of inputs) if (checkSignature(input, target, trust, nowMs)) refused++;
  return refused;
}
