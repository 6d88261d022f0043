/**
 * Keeps one child of `patchflow up` running: the Temporal dev server, the embedded PostgreSQL or
 * the worker. An unexpected exit is logged and followed by a restart after a growing delay; a
 * child that keeps dying stops `up` instead of being restarted for ever.
 *
 * RestartPolicy is the decision alone (pure, driven by timestamps); Supervisor does the waiting,
 * starting and stopping.
 */
import type { Logger } from '../logger';
import { describeExit, type ChildExit } from './process';

export interface RestartPolicyOptions {
  /** Delay before the first restart; each further exit within the window doubles it. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** This many exits within `windowMs` is a crash loop: give up. */
  maxExits: number;
  windowMs: number;
}

/** 1 s, 2 s, 4 s, 8 s; the fifth exit within a minute gives up. */
export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = { initialDelayMs: 1000, maxDelayMs: 30_000, maxExits: 5, windowMs: 60_000 };

export type RestartDecision = { action: 'restart'; delayMs: number; exitsInWindow: number } | { action: 'give-up'; exitsInWindow: number };

export class RestartPolicy {
  private exits: number[] = [];

  constructor(readonly options: RestartPolicyOptions = DEFAULT_RESTART_POLICY) {}

  /**
   * One unexpected exit (or failed restart) at `now` (ms). Exits older than the window are
   * forgotten, so a child that ran for a while starts again from the initial delay.
   */
  recordExit(now: number): RestartDecision {
    const { initialDelayMs, maxDelayMs, maxExits, windowMs } = this.options;
    this.exits = this.exits.filter((at) => now - at < windowMs);
    this.exits.push(now);
    const exitsInWindow = this.exits.length;
    if (exitsInWindow >= maxExits) return { action: 'give-up', exitsInWindow };
    return { action: 'restart', delayMs: Math.min(maxDelayMs, initialDelayMs * 2 ** (exitsInWindow - 1)), exitsInWindow };
  }
}

/** One run of a supervised child. */
export interface SupervisedChild {
  /** Settles when this run ends, whatever the reason. */
  exited: Promise<ChildExit>;
  stop(): Promise<void>;
}

export interface SupervisorOptions<T extends SupervisedChild> {
  /** For the logs and the give-up message: "Temporal dev server", "PostgreSQL", "worker". */
  name: string;
  /** Starts one run; resolves once it is ready (and rejects if it cannot start). */
  start: () => Promise<T>;
  logger: Logger;
  policy?: RestartPolicy;
  /** True once the whole stack is stopping: an exit then is expected. */
  isStopping?: () => boolean;
  /** After every successful restart (not the first start). */
  onRestarted?: (child: T) => void;
  /** The child keeps dying: `up` should stop. Called at most once. */
  onGiveUp: (error: Error) => void;
  now?: () => number;
}

export class Supervisor<T extends SupervisedChild> {
  private current?: T;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private restarting?: Promise<void>;
  private readonly policy: RestartPolicy;
  private readonly log: Logger;
  private readonly now: () => number;
  /** Unexpected exits so far (tests and logs). */
  restarts = 0;

  constructor(private readonly options: SupervisorOptions<T>) {
    this.policy = options.policy ?? new RestartPolicy();
    this.log = options.logger.child({ supervised: options.name });
    this.now = options.now ?? Date.now;
  }

  /** The run in progress, if any. */
  get child(): T | undefined {
    return this.current;
  }

  /** The first start: a failure here is the caller's (nothing is retried). */
  async start(): Promise<T> {
    const child = await this.options.start();
    this.adopt(child);
    return child;
  }

  /** No more restarts; stops the run in progress (or the one being started). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.restarting;
    const child = this.current;
    this.current = undefined;
    await child?.stop();
  }

  private adopt(child: T): void {
    this.current = child;
    void child.exited.then((exit) => {
      if (this.current !== child) return;
      this.current = undefined;
      if (this.stopped || this.options.isStopping?.()) return;
      this.log.error(
        { code: exit.code, signal: exit.signal, err: exit.error },
        `${this.options.name} exited unexpectedly (${describeExit(exit)})`,
      );
      this.afterExit(exit);
    });
  }

  private afterExit(exit: ChildExit): void {
    const decision = this.policy.recordExit(this.now());
    const { windowMs } = this.policy.options;
    if (decision.action === 'give-up') {
      this.stopped = true;
      this.options.onGiveUp(
        new Error(
          `${this.options.name} exited ${decision.exitsInWindow} times within ${Math.round(windowMs / 1000)} s ` +
            `(last: ${describeExit(exit).split('\n')[0]}); giving up`,
        ),
      );
      return;
    }
    this.log.warn(
      { delayMs: decision.delayMs, exitsInWindow: decision.exitsInWindow },
      `restarting ${this.options.name} in ${decision.delayMs / 1000} s`,
    );
    this.timer = setTimeout(() => {
      this.restarting = this.restart().finally(() => (this.restarting = undefined));
    }, decision.delayMs);
  }

  private async restart(): Promise<void> {
    if (this.stopped || this.options.isStopping?.()) return;
    this.restarts++;
    let child: T;
    try {
      child = await this.options.start();
    } catch (error) {
      if (this.stopped || this.options.isStopping?.()) return;
      this.log.error({ err: error }, `${this.options.name} did not start again`);
      this.afterExit({ code: null, signal: null, error });
      return;
    }
    if (this.stopped || this.options.isStopping?.()) {
      await child.stop();
      return;
    }
    this.log.warn(`${this.options.name} is running again`);
    this.adopt(child);
    this.options.onRestarted?.(child);
  }
}
