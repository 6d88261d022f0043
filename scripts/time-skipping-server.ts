/**
 * npm run time-skipping-server — provisions Temporal's time-skipping test server for the
 * simulated-time tests (Maven and a JDK once per machine, then cached; see
 * src/runtime/time-skipping-server.ts) and prints the path of the executable the SDK runs.
 */
import { provisionTimeSkippingServer } from '../src/runtime/time-skipping-server';

provisionTimeSkippingServer({ progress: (line) => process.stderr.write(`${line}\n`) })
  .then((server) => process.stdout.write(`${server.path}\n`))
  .catch((err: unknown) => {
    process.stderr.write(`time-skipping-server: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
