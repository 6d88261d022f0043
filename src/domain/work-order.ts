/**
 * Host work orders (docs/security.md, "Work orders that cannot be forged"): what the orchestrator
 * signs before a host agent may change its host, and how the agent judges one. Pure: the shapes,
 * the fields a signature covers and the verification with its reasons; the signing activity
 * (src/activities/work-orders.ts) and the agent (src/connectors/agent) do the I/O.
 *
 * A signature covers the whole `WorkOrder` as RFC 8785 canonical JSON (src/signing/ed25519.ts),
 * so changing any field, or adding one, breaks it.
 */
import { signValue, verifyValue } from '../signing/ed25519';
import type { HostWork } from './deployment';

/**
 * The agent calls that need an order: every one that changes the host (a post-check rolls back
 * when it fails). `awaitHost`, `testHost`, `inspectHost` and `reportInventory` only read and
 * take none.
 */
export const WORK_OPERATIONS = ['deploy', 'reboot', 'post-check', 'rollback'] as const;
export type WorkOperation = (typeof WORK_OPERATIONS)[number];

/** How long an order stays good: longer than the 5 attempts of one 1-hour call and their back-off. */
export const WORK_ORDER_LIFETIME_MS = 6 * 60 * 60_000;
/** How far the orchestrator's clock may run ahead of the host's. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** One package and version an order names. */
export interface OrderedPackage {
  name: string;
  version: string;
}

export interface WorkOrder {
  /** The format; a verifier refuses any other. */
  v: 1;
  /** A fresh random id (nonce): an agent carries out one order once. */
  id: string;
  assetId: string;
  patchId: string;
  /** The workflow's attempt at this host (HostWork.attempt). */
  attempt: number;
  operation: WorkOperation;
  /**
   * Sorted by name. deploy, reboot, post-check: the fixed versions the patch installs; rollback:
   * the versions to restore (empty when the patch changed nothing).
   */
  packages: OrderedPackage[];
  /** The workflow the order was signed for: the agent accepts it only from an activity of that workflow. */
  workflowId: string;
  issuedAt: string;
  expiresAt: string;
}

export interface SignedWorkOrder {
  order: WorkOrder;
  /** Ed25519 over the canonical JSON of `order`, hex. */
  signature: string;
}

/** What the workflow asks the signing activity for: ids and the packages it means, nothing more. */
export interface WorkOrderRequest {
  patchId: string;
  assetId: string;
  attempt: number;
  operation: WorkOperation;
  packages: OrderedPackage[];
}

/** The packages an operation on `work` names, in the order a signature covers them. */
export function orderedPackages(operation: WorkOperation, work: HostWork): OrderedPackage[] {
  const list =
    operation === 'rollback'
      ? Object.entries(work.previousVersions ?? {}).map(([name, version]) => ({ name, version }))
      : work.packages.map((p) => ({ name: p.name, version: p.fixedVersion }));
  return sortPackages(list);
}

export function sortPackages(list: OrderedPackage[]): OrderedPackage[] {
  return [...list].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0,
  );
}

/** The request for one operation on one host's work. */
export function workOrderRequest(operation: WorkOperation, work: HostWork): WorkOrderRequest {
  return { patchId: work.patchId, assetId: work.assetId, attempt: work.attempt, operation, packages: orderedPackages(operation, work) };
}

export function samePackages(a: OrderedPackage[], b: OrderedPackage[]): boolean {
  const x = sortPackages(a);
  const y = sortPackages(b);
  return x.length === y.length && x.every((p, i) => p.name === y[i]!.name && p.version === y[i]!.version);
}

/** The order for a request that passed the signing activity's checks. */
export function newWorkOrder(request: WorkOrderRequest, meta: { id: string; workflowId: string; now: number }): WorkOrder {
  return {
    v: 1,
    id: meta.id,
    assetId: request.assetId,
    patchId: request.patchId,
    attempt: request.attempt,
    operation: request.operation,
    packages: sortPackages(request.packages),
    workflowId: meta.workflowId,
    issuedAt: new Date(meta.now).toISOString(),
    expiresAt: new Date(meta.now + WORK_ORDER_LIFETIME_MS).toISOString(),
  };
}

export function signWorkOrder(order: WorkOrder, secretKey: Uint8Array): SignedWorkOrder {
  return { order, signature: signValue(order, secretKey) };
}

/** What the agent expects an order to say: its own asset, and the task the order came with. */
export interface ExpectedOrder {
  assetId: string;
  operation: WorkOperation;
  work: HostWork;
  /** The workflow of the activity that brought the order. */
  workflowId: string;
}

export type OrderVerdict = { ok: true; order: WorkOrder } | { ok: false; reason: string };

const refuse = (reason: string): OrderVerdict => ({ ok: false, reason });

/**
 * Whether an agent may carry out `signed` for the task it came with, at `now` (ms, the host's
 * clock). The signature is checked first: nothing an unsigned or foreign order says is trusted.
 */
export function verifyWorkOrder(signed: unknown, publicKey: string, expected: ExpectedOrder, now: number): OrderVerdict {
  if (signed === undefined || signed === null) return refuse('no work order: the orchestrator signs every change to a host');
  if (typeof signed !== 'object' || !('order' in signed) || !('signature' in signed)) return refuse('malformed work order');
  const { order, signature } = signed;
  if (!verifyValue(order, signature, publicKey)) return refuse('the work order is not signed by the orchestrator this agent trusts');
  if (!isWorkOrder(order)) return refuse('malformed work order');
  const expires = Date.parse(order.expiresAt);
  if (!(expires > now)) return refuse(`the work order expired at ${order.expiresAt}`);
  if (Date.parse(order.issuedAt) > now + CLOCK_SKEW_MS) return refuse(`the work order is issued in the future (${order.issuedAt})`);
  if (order.assetId !== expected.assetId) return refuse(`the work order is for ${order.assetId}, not this host (${expected.assetId})`);
  const { work } = expected;
  if (work.assetId !== order.assetId || work.patchId !== order.patchId || work.attempt !== order.attempt)
    return refuse(
      `the work order is for patch ${order.patchId} attempt ${order.attempt} on ${order.assetId}, the task for patch ${work.patchId} attempt ${work.attempt} on ${work.assetId}`,
    );
  if (order.operation !== expected.operation) return refuse(`the work order is for ${order.operation}, the task is ${expected.operation}`);
  if (!samePackages(order.packages, orderedPackages(expected.operation, work)))
    return refuse(`the work order names other packages than the task: ${describePackages(order.packages)}`);
  if (order.workflowId !== expected.workflowId)
    return refuse(`the work order was signed for workflow ${order.workflowId}, not ${expected.workflowId}`);
  return { ok: true, order };
}

export const describePackages = (list: OrderedPackage[]) => (list.length ? list.map((p) => `${p.name}=${p.version}`).join(', ') : 'none');

function isWorkOrder(value: unknown): value is WorkOrder {
  if (typeof value !== 'object' || value === null) return false;
  const o = value as Record<string, unknown>;
  const text = (k: string) => typeof o[k] === 'string';
  return (
    o.v === 1 &&
    ['id', 'assetId', 'patchId', 'workflowId', 'issuedAt', 'expiresAt'].every(text) &&
    Number.isInteger(o.attempt) &&
    (WORK_OPERATIONS as readonly unknown[]).includes(o.operation) &&
    Array.isArray(o.packages) &&
    o.packages.every((p: unknown) => {
      const pkg = p as Record<string, unknown> | null;
      return typeof pkg === 'object' && pkg !== null && typeof pkg.name === 'string' && typeof pkg.version === 'string';
    })
  );
}
