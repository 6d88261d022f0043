import fs from 'node:fs';
import { portInUse } from '../../src/runtime/ports';

/**
 * Free ports below the kernel's ephemeral range: the OS never gives them to an outgoing
 * connection, so a server can stop and start again on one while other test files connect around
 * it (a port the OS picked could be taken in between).
 */
export async function stablePorts(count: number): Promise<number[]> {
  const low = ephemeralLow();
  const picked = new Set<number>();
  while (picked.size < count) {
    const port = 20_000 + Math.floor(Math.random() * (low - 20_000));
    if (!picked.has(port) && !(await portInUse(port))) picked.add(port);
  }
  return [...picked];
}

function ephemeralLow(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}
