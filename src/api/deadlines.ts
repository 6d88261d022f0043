/**
 * How long the API waits for PostgreSQL and Temporal before it answers 503 `unavailable`
 * (docs/http-api.md, "Errors"): no request hangs, and an outage is named within a few seconds.
 *
 * Three layers, each shorter than the next: PostgreSQL calls have a connect timeout and a
 * statement timeout (the API's pool, src/runtime/services.ts), every Temporal call of a request
 * has a gRPC deadline, and a guard answers for a request that still runs at its budget's end.
 */

export interface Deadlines {
  /** The token check (one indexed query) answers within this, or a 503 naming PostgreSQL. */
  tokenMs: number;
  /**
   * A handler still running this long is looked at: a dependency that does not answer gets its 503 now; when both answer the request is only
   * slow, and goes on (looked at again after as long) up to `maxRequestMs`.
   */
  requestMs: number;
  /** Every Temporal call made while a handler runs ends by this long after the handler began. */
  temporalMs: number;
  /** The look at which dependency answers, taken out of `requestMs`. */
  probeMs: number;
  /** A handler still running this long gets a 503 whatever the dependencies say (unless its route sets its own). */
  maxRequestMs: number;
}

export const DEFAULT_DEADLINES: Deadlines = { tokenMs: 3000, requestMs: 4000, temporalMs: 3500, probeMs: 500, maxRequestMs: 30_000 };

/** The budget of a route whose work is long by nature: bulk imports of assets and feeds. */
export const BULK_REQUEST_MS = 10 * 60_000;

/** The API pool's PostgreSQL limits (pg options, src/runtime/services.ts). */
export const POSTGRES_TIMEOUTS = {
  /** A connection (new, or a free one of the pool) within 2 s. */
  connectionTimeoutMillis: 2000,
  /** The server cancels a statement after 10 s: no API statement comes near (bulk writes go in batches). */
  statement_timeout: 10_000,
  /** The client gives up on a server that does not answer at all. */
  query_timeout: 12_000,
};

/** The outcome of work that was still running when its deadline answered for it. */
export type LateOutcome = { ok: true } | { ok: false; error: unknown };

/**
 * Settles like `work`, unless `late()` gives an error first: `late` is asked `ms` after the call
 * (it may take a moment: it can look at which dependency answers), and again every `ms` as long
 * as it answers undefined (go on waiting). `work` is not stopped: `onLate` hears how it ends.
 */
export function withinDeadline<T>(
  work: Promise<T>,
  ms: number,
  late: (elapsedMs: number) => Promise<Error | undefined>,
  onLate: (outcome: LateOutcome) => void,
): Promise<T> {
  const started = Date.now();
  return new Promise<T>((resolve, reject) => {
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const look = () => {
      const answer = (error: Error | undefined) => {
        if (answered) return; // the work ended while `late` was looking
        if (error === undefined) timer = setTimeout(look, Math.max(0, ms));
        else {
          answered = true;
          reject(error);
        }
      };
      late(Date.now() - started).then(answer, (error: unknown) => answer(error instanceof Error ? error : new Error(String(error))));
    };
    timer = setTimeout(look, Math.max(0, ms));
    work.then(
      (value) => {
        if (answered) return onLate({ ok: true });
        answered = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (answered) return onLate({ ok: false, error });
        answered = true;
        clearTimeout(timer);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the work's own rejection on, as it is
        reject(error);
      },
    );
  });
}
