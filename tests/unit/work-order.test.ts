/** Host work orders (src/domain/work-order.ts): what a signature covers and every reason an agent refuses one. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HostWork } from '../../src/domain/deployment';
import {
  newWorkOrder,
  orderedPackages,
  signWorkOrder,
  verifyWorkOrder,
  WORK_ORDER_LIFETIME_MS,
  WORK_OPERATIONS,
  workOrderRequest,
  type ExpectedOrder,
  type WorkOperation,
  type WorkOrder,
} from '../../src/domain/work-order';
import { newSigningKey } from '../../src/signing/keys';

const KEY = newSigningKey();
const OTHER = newSigningKey();
const NOW = Date.parse('2026-03-01T10:00:00Z');

const work: HostWork = {
  patchId: '20260301-9f2c01ab',
  assetId: 'web-01',
  attempt: 2,
  packages: [
    { name: 'openssh-server', fixedVersion: '1:8.9p1-3ubuntu0.10' },
    { name: 'libc6', fixedVersion: '2.35-0ubuntu3.4' },
  ],
  previousVersions: { 'openssh-server': '1:8.9p1-3ubuntu0.6', libc6: '2.35-0ubuntu3.1' },
};
const order = (operation: WorkOperation = 'deploy', w = work, now = NOW): WorkOrder =>
  newWorkOrder(workOrderRequest(operation, w), { id: 'order-1', workflowId: 'patch-20260301-9f2c01ab-lab-1', now });
const expected = (operation: WorkOperation = 'deploy', w = work): ExpectedOrder => ({
  assetId: 'web-01',
  operation,
  work: w,
  workflowId: 'patch-20260301-9f2c01ab-lab-1',
});
const verdict = (signed: unknown, exp = expected(), now = NOW + 60_000, key = KEY.publicKey) => verifyWorkOrder(signed, key, exp, now);

describe('a work order', () => {
  it('names the asset, patch, attempt, operation, packages sorted by name, the workflow, and expires six hours after signing', () => {
    expect(order()).toEqual({
      v: 1,
      id: 'order-1',
      assetId: 'web-01',
      patchId: '20260301-9f2c01ab',
      attempt: 2,
      operation: 'deploy',
      packages: [
        { name: 'libc6', version: '2.35-0ubuntu3.4' },
        { name: 'openssh-server', version: '1:8.9p1-3ubuntu0.10' },
      ],
      workflowId: 'patch-20260301-9f2c01ab-lab-1',
      issuedAt: '2026-03-01T10:00:00.000Z',
      expiresAt: '2026-03-01T16:00:00.000Z',
    });
    expect(orderedPackages('rollback', work)).toEqual([
      { name: 'libc6', version: '2.35-0ubuntu3.1' },
      { name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6' },
    ]);
    expect(orderedPackages('rollback', { ...work, previousVersions: undefined })).toEqual([]);
  });

  it('is accepted for the task it was signed for, for every operation', () => {
    for (const operation of WORK_OPERATIONS) {
      const o = order(operation);
      expect(verdict(signWorkOrder(o, KEY.secretKey), expected(operation))).toEqual({ ok: true, order: o });
    }
  });

  it('is refused with its reason', () => {
    const signed = signWorkOrder(order(), KEY.secretKey);
    const reasons = [
      verdict(undefined),
      verdict('not an order'),
      verdict({ order: order() }),
      verdict(signWorkOrder(order(), OTHER.secretKey)),
      verdict(signed, expected(), NOW + 60_000, OTHER.publicKey),
      verdict(signed, expected(), NOW + WORK_ORDER_LIFETIME_MS),
      verdict(signWorkOrder(order('deploy', work, NOW + 3_600_000), KEY.secretKey)),
      verdict(signed, { ...expected(), assetId: 'db-02', work: { ...work, assetId: 'db-02' } }),
      verdict(signed, { ...expected(), work: { ...work, attempt: 3 } }),
      verdict(signed, expected('reboot')),
      verdict(signed, expected('deploy', { ...work, packages: [{ name: 'openssh-server', fixedVersion: '1:7.4p1-1' }] })),
      verdict(signed, { ...expected(), workflowId: 'forger' }),
      verdict(signWorkOrder({ ...order(), operation: 'format-disk' } as unknown as WorkOrder, KEY.secretKey)),
    ].map((v) => (v.ok ? 'accepted' : v.reason));
    expect(reasons).toEqual([
      'no work order: the orchestrator signs every change to a host',
      'malformed work order',
      'malformed work order',
      'the work order is not signed by the orchestrator this agent trusts',
      'the work order is not signed by the orchestrator this agent trusts',
      'the work order expired at 2026-03-01T16:00:00.000Z',
      'the work order is issued in the future (2026-03-01T11:00:00.000Z)',
      'the work order is for web-01, not this host (db-02)',
      'the work order is for patch 20260301-9f2c01ab attempt 2 on web-01, the task for patch 20260301-9f2c01ab attempt 3 on web-01',
      'the work order is for deploy, the task is reboot',
      'the work order names other packages than the task: libc6=2.35-0ubuntu3.4, openssh-server=1:8.9p1-3ubuntu0.10',
      'the work order was signed for workflow patch-20260301-9f2c01ab-lab-1, not forger',
      'malformed work order',
    ]);
  });

  it('property: changing any signed field, or adding one, breaks the signature', () => {
    const signed = signWorkOrder(order('rollback'), KEY.secretKey);
    const fields = Object.keys(signed.order) as (keyof WorkOrder)[];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.oneof(fc.string(), fc.integer(), fc.constant(null)), (field, value) => {
        fc.pre(signed.order[field] !== value);
        const altered = { ...signed, order: { ...signed.order, [field]: value } };
        const v = verdict(altered, expected('rollback'));
        return !v.ok && v.reason === 'the work order is not signed by the orchestrator this agent trusts';
      }),
    );
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((k) => !(k in signed.order)),
        fc.string(),
        (extra, value) => !verdict({ ...signed, order: { ...signed.order, [extra]: value } }, expected('rollback')).ok,
      ),
    );
    // and a version inside the package list
    const downgraded = structuredClone(signed);
    downgraded.order.packages[1]!.version = '1:7.4p1-1';
    expect(verdict(downgraded, expected('rollback'))).toMatchObject({ ok: false, reason: expect.stringMatching(/not signed/) });
  });
});
