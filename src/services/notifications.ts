/**
 * Notifications (docs/process.md, "Durations and policy"): JSON POSTs to the policy's webhooks
 * with a Slack-compatible `text`. Each receiver is tried a few times; one that stays down is reported, never thrown,
 * so a broken chat integration cannot stall or fail a patch.
 */
import type { Logger } from '../logger';
import type { NotificationEvent, Policy } from '../domain/policy';

export interface Notification {
  event: NotificationEvent;
  patchId: string;
  title: string;
  text: string;
  details?: Record<string, unknown>;
}

export interface DeliveryReport {
  delivered: string[];
  failed: { url: string; error: string }[];
}

const ATTEMPTS = 3;
const TIMEOUT_MS = 5000;

export async function deliver(
  webhooks: Policy['notifications']['webhooks'],
  notification: Notification,
  logger: Logger,
  backoffMs = 250,
): Promise<DeliveryReport> {
  const receivers = webhooks.filter((w) => !w.events || w.events.includes(notification.event));
  const body = JSON.stringify({ ...notification, text: `[patch ${notification.patchId}] ${notification.text}` });
  const report: DeliveryReport = { delivered: [], failed: [] };
  await Promise.all(
    receivers.map(async ({ url }) => {
      let error = '';
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(TIMEOUT_MS),
          });
          if (res.ok) {
            report.delivered.push(url);
            return;
          }
          error = `HTTP ${res.status}`;
        } catch (err) {
          error = (err as Error).cause ? String((err as Error & { cause: unknown }).cause) : (err as Error).message;
        }
        if (attempt < ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, backoffMs * 4 ** (attempt - 1)));
      }
      logger.warn({ url, event: notification.event, patch: notification.patchId, error }, 'notification not delivered');
      report.failed.push({ url, error });
    }),
  );
  return report;
}
