/**
 * The work-order signing activity (src/activities/work-orders.ts) on a real PostgreSQL: it signs
 * only what the deployment records and an approval through the API allow, whoever asks.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type Activities } from '../../src/activities';
import { recordAudit } from '../../src/db/audit';
import {
  verifyWorkOrder,
  workOrderRequest,
  type SignedWorkOrder,
  type WorkOperation,
  type WorkOrderRequest,
} from '../../src/domain/work-order';
import type { HostWork } from '../../src/domain/deployment';
import { TEST_KEYS } from '../helpers/keys';
import { freshDatabase, logger } from '../helpers/servers';

let pool: Pool;
let acts: Activities;

beforeAll(async () => {
  ({ pool } = await freshDatabase());
  acts = createActivities({ pool, logger, workOrderKey: TEST_KEYS.workOrders });
});
afterAll(() => pool?.end());

const OLD = '1:8.9p1-3ubuntu0.6';
const FIXED = '1:8.9p1-3ubuntu0.10';

let seq = 0;
/** A patch whose deployment has web-01 (openssh-server to FIXED, recorded before as OLD); approved through the API unless told. */
async function patch({ approved = true, status = 'installed' } = {}) {
  const patchId = `wo-${++seq}`;
  const later = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
  await pool.query(
    `INSERT INTO patch_deployments (patch_id, title, priority, emergency, opened_at, recommended_deadline, maximum_deadline)
     VALUES ($1, 't', 2, false, now(), $2, $3)`,
    [patchId, later(7), later(14)],
  );
  await pool.query(
    `INSERT INTO deployment_hosts (patch_id, asset_id, ring, wave, position, connector, packages, previous_versions, status)
     VALUES ($1, 'web-01', 'pilot', NULL, 0, 'agent', $2, $3, $4)`,
    [patchId, { 'openssh-server': FIXED }, { 'openssh-server': OLD }, status],
  );
  if (approved) await approve(patchId);
  return patchId;
}

const approve = (patchId: string, { status = 200, decision = 'approve', path = `/v1/patches/${patchId}/decision` } = {}) =>
  recordAudit(pool, { actorId: 'u1', actorName: 'ann', method: 'POST', path, status, body: { decision, comment: 'ok' } });

const work = (patchId: string, overrides: Partial<HostWork> = {}): HostWork => ({
  patchId,
  assetId: 'web-01',
  attempt: 1,
  packages: [{ name: 'openssh-server', fixedVersion: FIXED }],
  previousVersions: { 'openssh-server': OLD },
  ...overrides,
});

/** Asks for an order as workflow `wf`, on activity attempt `attempt`. */
const sign = (request: WorkOrderRequest, attempt = 1): Promise<SignedWorkOrder> =>
  new MockActivityEnvironment({ attempt, workflowExecution: { workflowId: 'wf', runId: 'r' } }, { logger: new DefaultLogger('ERROR') }).run(
    acts.signWorkOrder,
    request,
  );

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: 'WorkOrderRefused', nonRetryable: true });
  return (err as Error).message;
}

describe('signWorkOrder', () => {
  it("signs what the deployment records, for the asking workflow, for six hours; the agent's check accepts it", async () => {
    const patchId = await patch();
    for (const operation of ['deploy', 'post-check', 'rollback'] as WorkOperation[]) {
      const w = work(patchId);
      const signed = await sign(workOrderRequest(operation, w));
      expect(signed.order).toMatchObject({ assetId: 'web-01', patchId, attempt: 1, operation, workflowId: 'wf' });
      expect(Date.parse(signed.order.expiresAt) - Date.parse(signed.order.issuedAt)).toBe(6 * 3_600_000);
      expect(signed.order.packages).toEqual([{ name: 'openssh-server', version: operation === 'rollback' ? OLD : FIXED }]);
      expect(
        verifyWorkOrder(signed, TEST_KEYS.workOrders.publicKey, { assetId: 'web-01', operation, work: w, workflowId: 'wf' }, Date.now()),
      ).toEqual({ ok: true, order: signed.order });
    }
  });

  it('refuses a host that is not in the patch deployment, and packages or versions the deployment does not record', async () => {
    const patchId = await patch();
    expect(await refusal(sign(workOrderRequest('deploy', work(patchId, { assetId: 'db-02' }))))).toBe(
      `work order refused: db-02 is not in the deployment of patch ${patchId}`,
    );
    expect(await refusal(sign(workOrderRequest('deploy', work('no-such-patch'))))).toMatch(
      /web-01 is not in the deployment of patch no-such-patch/,
    );
    expect(
      await refusal(sign(workOrderRequest('deploy', work(patchId, { packages: [{ name: 'openssh-server', fixedVersion: '1:7.4p1-1' }] })))),
    ).toBe(`work order refused: openssh-server=1:7.4p1-1 for web-01 are not the versions the patch installs (openssh-server=${FIXED})`);
    expect(
      await refusal(
        sign(workOrderRequest('deploy', work(patchId, { packages: [...work(patchId).packages, { name: 'sudo', fixedVersion: '1.9.9' }] }))),
      ),
    ).toMatch(/are not the versions the patch installs/);
    // the pen test's forged rollback: chosen "previous versions"
    expect(await refusal(sign(workOrderRequest('rollback', work(patchId, { previousVersions: { 'openssh-server': '1:7.4p1-1' } }))))).toBe(
      `work order refused: openssh-server=1:7.4p1-1 for web-01 are not the versions recorded before the patch changed it (openssh-server=${OLD})`,
    );
    // a reboot only after an install that asked for one
    expect(await refusal(sign(workOrderRequest('reboot', work(patchId))))).toBe(
      'work order refused: web-01 is installed: only an install that needs a reboot is followed by one',
    );
    const rebooting = await patch({ status: 'rebooting' });
    expect((await sign(workOrderRequest('reboot', work(rebooting)))).order.operation).toBe('reboot');
  });

  it('refuses a patch never approved through the API (after looking again on the first attempts)', async () => {
    const patchId = await patch({ approved: false });
    const request = workOrderRequest('deploy', work(patchId));
    // an approval on its way into the audit trail: retryable at first
    const early = await sign(request, 1).catch((e: unknown) => e);
    expect(early).toMatchObject({ type: 'NotYetApproved', nonRetryable: false });
    expect(await refusal(sign(request, 3))).toBe(`work order refused: patch ${patchId} was never approved through the API`);
    // neither a refused approval, a reject, nor another patch's approval counts
    await approve(patchId, { status: 403 });
    await approve(patchId, { decision: 'reject' });
    await approve(patchId, { path: `/v1/patches/${patchId}-other/decision` });
    await approve(patchId, { path: `/v1/patches/${patchId}/reviews` });
    expect(await refusal(sign(request, 3))).toMatch(/was never approved through the API/);
    await approve(patchId);
    expect((await sign(request, 3)).order.patchId).toBe(patchId);
  });
});
