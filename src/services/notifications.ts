/**
 * Notifications (docs/process.md, "Durations and policy"): JSON POSTs to the policy's webhooks
 * with a Slack-compatible `text`. Each receiver is tried a few times; one that stays down is reported, never thrown,
 * so a broken chat integration cannot stall or fail a patch.
 *
 * A webhook must not become a way into the internal network (docs/security.md, "Webhooks"): its
 * host is resolved first, and any internal address refuses it unless the policy's
 * `allowedInternalHosts` names the host; the connection then goes to the address that was checked
 * (a DNS answer that changes between the check and the connect cannot redirect it); redirects are
 * never followed; and what is reported or logged is the webhook's position and host with an error
 * from a fixed vocabulary, never its path and query (which often carry a secret) nor anything the
 * receiver answered.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import tls from 'node:tls';
import { allowedHosts, internalRange, isIpLiteral, isLocalhostName } from '../domain/internal-address';
import type { Logger } from '../logger';
import type { NotificationEvent, Policy } from '../domain/policy';

export interface Notification {
  event: NotificationEvent;
  patchId: string;
  title: string;
  text: string;
  details?: Record<string, unknown>;
}

/**
 * A receiver, as the report (kept in the workflow history) and the log name it: its position in
 * `notifications.webhooks` and its host.
 */
export interface Receiver {
  webhook: number;
  host: string;
}

/** Errors are one of: `refused: internal address`, `invalid URL`, `name not resolved`, `timeout`, `connection failed`, `HTTP <status>`. */
export interface DeliveryReport {
  delivered: Receiver[];
  failed: (Receiver & { error: string })[];
}

const ATTEMPTS = 3;
const TIMEOUT_MS = 5000;

export const REFUSED_INTERNAL = 'refused: internal address';

/** A delivery that failed for a reason trying again cannot change. */
class Final extends Error {}

/** How a host's name is resolved: `dns.promises.lookup` (tests substitute their own). */
export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: Resolver = (host) => dns.promises.lookup(host, { all: true, verbatim: true });

export interface DeliveryOptions {
  backoffMs?: number;
  resolve?: Resolver;
  timeoutMs?: number;
  /** Certificates trusted beside the system's for https receivers (tests). */
  ca?: string[];
}

export async function deliver(
  notifications: Policy['notifications'],
  notification: Notification,
  logger: Logger,
  { backoffMs = 250, resolve = systemResolver, timeoutMs = TIMEOUT_MS, ca }: DeliveryOptions = {},
): Promise<DeliveryReport> {
  const allowed = allowedHosts(notifications.allowedInternalHosts ?? []);
  const body = JSON.stringify({ ...notification, text: `[patch ${notification.patchId}] ${notification.text}` });
  const report: DeliveryReport = { delivered: [], failed: [] };
  await Promise.all(
    notifications.webhooks.map(async ({ url, events }, webhook) => {
      if (events && !events.includes(notification.event)) return;
      const host = hostOf(url);
      let error = '';
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        try {
          await post(url, body, allowed, { resolve, timeoutMs, ca });
          report.delivered.push({ webhook, host });
          return;
        } catch (err) {
          error = describe(err);
          if (err instanceof Final) break;
        }
        if (attempt < ATTEMPTS) await new Promise((done) => setTimeout(done, backoffMs * 4 ** (attempt - 1)));
      }
      // the host only: a webhook URL's path and query are secrets
      logger.warn({ webhook, host, event: notification.event, patch: notification.patchId, error }, 'notification not delivered');
      report.failed.push({ webhook, host, error });
    }),
  );
  // in the policy's order, whichever answered first
  report.delivered.sort((a, b) => a.webhook - b.webhook);
  report.failed.sort((a, b) => a.webhook - b.webhook);
  return report;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * One POST: resolve, check every address, connect to the first checked one. Resolves on a 2xx;
 * rejects with `Final` (refused, or an answer other than 2xx, redirects included) or another error.
 */
async function post(
  url: string,
  body: string,
  allowed: Set<string>,
  { resolve, timeoutMs, ca }: { resolve: Resolver; timeoutMs: number; ca: string[] | undefined },
): Promise<void> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new Final('invalid URL');
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Final('invalid URL');
  const deadline = AbortSignal.timeout(timeoutMs);
  const hostname = target.hostname;
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  const isAllowed = allowed.has(hostname);
  if (isLocalhostName(hostname) && !isAllowed) throw new Final(REFUSED_INTERNAL);

  const addresses = isIpLiteral(hostname)
    ? [{ address: bare, family: bare.includes(':') ? 6 : 4 }]
    : await resolving(resolve, bare, deadline);
  if (addresses.length === 0) throw new Final('name not resolved');
  if (!isAllowed && addresses.some(({ address }) => internalRange(address) !== undefined)) throw new Final(REFUSED_INTERNAL);
  const checked = addresses[0]!;

  // the socket goes to the checked address whatever the resolver would answer now; the URL's
  // host stays the Host header and, for https, the TLS server name checked against the certificate
  const lookup: LookupFunction = (_name, options, callback) => {
    if (options.all) callback(null, [checked]);
    else callback(null, checked.address, checked.family);
  };
  const request = (target.protocol === 'https:' ? https : http).request;
  const status = await new Promise<number>((done, fail) => {
    const req = request(
      target,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        lookup,
        agent: false,
        signal: deadline,
        ...(ca && target.protocol === 'https:' ? { ca: [...tls.rootCertificates, ...ca] } : {}),
      },
      (res) => {
        // nothing of the answer is read: only its status counts
        done(res.statusCode ?? 0);
        res.destroy();
      },
    );
    req.on('error', fail);
    req.end(body);
  });
  if (status >= 200 && status < 300) return;
  // a redirect is a failed delivery, never followed (it could point anywhere)
  throw status >= 300 && status < 500 ? new Final(`HTTP ${status}`) : new Error(`HTTP ${status}`);
}

async function resolving(resolve: Resolver, host: string, deadline: AbortSignal) {
  // the system resolver cannot be cancelled; the attempt's deadline stops waiting for it
  let stop = () => {};
  const timedOut = new Promise<never>((_resolve, fail) => {
    const onAbort = () => fail(deadline.reason as Error);
    deadline.addEventListener('abort', onAbort, { once: true });
    stop = () => deadline.removeEventListener('abort', onAbort);
  });
  try {
    return await Promise.race([resolve(host), timedOut]);
  } catch (err) {
    if (deadline.aborted) throw err;
    // the resolver's own text (which names the host) stays out of the report
    throw new Error('name not resolved', { cause: err });
  } finally {
    stop();
  }
}

/** The fixed vocabulary: nothing the receiver or the network said verbatim. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return 'connection failed';
  if (err instanceof Final || err.message === 'name not resolved' || /^HTTP \d+$/.test(err.message)) return err.message;
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timeout';
  return 'connection failed';
}
