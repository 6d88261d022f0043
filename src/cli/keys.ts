/**
 * `patchflow keys show [name]`: the public key of one of the orchestrator's signing keys, for
 * the places that verify what it signs; a host agent's `--orchestrator-key` is the `work-orders`
 * key (the default). It reads the key as the worker does (src/signing/keys.ts), so run it with the
 * worker's PATCHFLOW_DATA_DIR or PATCHFLOW_WORK_ORDER_SIGNING_KEY. Never prints a secret.
 */
import { loadSigningKey, type KeyName } from '../signing/keys';

const KEY_NAMES: readonly KeyName[] = ['work-orders', 'updates'];

export function showKey(dataDir: string, name = 'work-orders', fromEnv: Partial<Record<KeyName, string>> = {}): string {
  if (!(KEY_NAMES as readonly string[]).includes(name)) throw new Error(`unknown key "${name}": ${KEY_NAMES.join(' or ')}`);
  return loadSigningKey(name as KeyName, dataDir, fromEnv[name as KeyName]).publicKey;
}
