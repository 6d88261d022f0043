// Each test process installs the Temporal runtime once, with the SDK's logs at WARN and above
// (LOG_LEVEL=debug shows everything).
import { DefaultLogger, Runtime } from '@temporalio/worker';

const level = process.env.LOG_LEVEL === 'debug' ? 'DEBUG' : 'WARN';
try {
  Runtime.install({ logger: new DefaultLogger(level) });
} catch {
  // already installed in this process (vitest reuses forks between files)
}
