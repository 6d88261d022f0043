/**
 * A parent for tests/unit/process.test.ts: spawns `sleep 600` tied to itself (spawnTied, the
 * mechanism named by argv[2]: auto or watchdog), prints the child's pid, and waits to be killed.
 */
import { spawnTied } from '../../src/runtime/process';

const tie = process.argv[2] === 'watchdog' ? 'watchdog' : 'auto';
const child = spawnTied('sleep', ['600'], { deathSignal: 'SIGTERM', stdio: 'ignore', detached: true, tie });
process.stdout.write(`${child.pid}\n`);
setInterval(() => undefined, 60_000);
