import type { Logger } from '../logger';

/**
 * Stops what was started, newest first, on SIGINT or SIGTERM. A second signal while stopping
 * forces the exit.
 */
export class Shutdown {
  private readonly steps: { name: string; run: () => Promise<void> }[] = [];
  private stopping?: Promise<void>;

  constructor(private readonly logger: Logger) {}

  /** True from the first signal (or run()) on: children exiting now are expected to. */
  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  add(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }

  onSignals(exit: (code: number) => void = (code) => process.exit(code)): void {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (this.stopping) {
          this.logger.warn({ signal }, 'second signal: exiting now');
          exit(130);
          return;
        }
        this.logger.info({ signal }, 'stopping');
        void this.run().then(() => exit(0));
      });
    }
  }

  run(): Promise<void> {
    this.stopping ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step.run();
          this.logger.debug({ step: step.name }, 'stopped');
        } catch (err) {
          this.logger.warn({ err, step: step.name }, 'error while stopping');
        }
      }
    })();
    return this.stopping;
  }
}
