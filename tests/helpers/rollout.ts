/**
 * The people and steps the rollout tests share: an operator, two reviewers, an approver and an
 * auditor; an advisory of their own per test; a patch driven to approval over HTTP.
 */
import { expect } from 'vitest';
import type { AssetInput } from '../../src/domain/asset';
import { testAsset } from './assets';
import type { TestStack } from './servers';

export type People = Record<'opal' | 'rita' | 'remy' | 'carl' | 'aude', string>;

export async function people(stack: TestStack): Promise<People> {
  return {
    opal: await stack.user('opal', ['operator']),
    rita: await stack.user('rita', ['reviewer']),
    remy: await stack.user('remy', ['reviewer']),
    carl: await stack.user('carl', ['approver']),
    aude: await stack.user('aude', ['auditor']),
  };
}

/**
 * An Ubuntu 22.04 advisory fixing `source` at `1.0-1ubuntu2`, and a kernel of its own
 * (`linux-<source>`, whose fix needs a reboot) at `5.15.0-101.1`.
 */
export async function importAdvisory(stack: TestStack, token: string, id: string, source: string): Promise<void> {
  const osv = {
    id,
    modified: '2026-11-01T00:00:00Z',
    summary: `${source}: a flaw for the rollout tests`,
    affected: [
      {
        package: { ecosystem: 'Ubuntu:22.04:LTS', name: source },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.0-1ubuntu2' }] }],
      },
      {
        package: { ecosystem: 'Ubuntu:22.04:LTS', name: `linux-${source}` },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '5.15.0-101.1' }] }],
      },
    ],
  };
  const res = await stack.call('POST', '/v1/feeds/osv', { token, body: osv });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** A host with the vulnerable `lib<source>` (and its kernel, `linux-image-<source>`, when `reboot`). */
export function fleetAsset(id: string, source: string, overrides: Partial<AssetInput> & { reboot?: boolean } = {}): AssetInput {
  const { reboot, ...rest } = overrides;
  return testAsset(id, {
    packages: [
      { name: `lib${source}`, source, version: '1.0-1ubuntu1', arch: 'amd64' },
      ...(reboot ? [{ name: `linux-image-${source}`, source: `linux-${source}`, version: '5.15.0-100.1', arch: 'amd64' }] : []),
    ],
    connector: 'simulated',
    ...rest,
    simulation: { installMs: 5, ...rest.simulation },
  });
}

export async function putAssets(stack: TestStack, token: string, assets: AssetInput[]): Promise<void> {
  const res = await stack.call('PUT', '/v1/assets', { token, body: { assets } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

export function patchSteps(stack: TestStack, who: People) {
  const status = async (id: string) => (await stack.call('GET', `/v1/patches/${id}`, { token: who.aude })).body;
  const until = async (id: string, accept: (s: any) => boolean, what: string, timeoutMs = 60_000): Promise<any> => {
    const end = Date.now() + timeoutMs;
    let last: any;
    while (Date.now() < end) {
      last = await status(id);
      if (accept(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`patch ${id} never reached ${what}; last status: ${JSON.stringify(last)}`);
  };
  const post = (id: string, path: string, token: string, body: unknown) => stack.call('POST', `/v1/patches/${id}/${path}`, { token, body });
  return {
    status,
    until,
    post,
    /** Opens a patch and takes it through review and approval. */
    async openApproved(advisoryId: string, body: Record<string, unknown>): Promise<string> {
      const res = await stack.call('POST', '/v1/patches', { token: who.opal, body: { advisoryIds: [advisoryId], ...body } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const id = res.body.id as string;
      const first = await until(id, (s) => s.awaiting === 'reviews', 'peer review');
      const reviewers = first.governance.reviewersRequired === 1 ? [who.rita] : [who.rita, who.remy];
      for (const token of reviewers)
        expect((await post(id, 'reviews', token, { verdict: 'approve', comment: 'looks right' })).status).toBe(200);
      await until(id, (s) => s.awaiting === 'decision', 'approval');
      expect((await post(id, 'decision', who.carl, { decision: 'approve', comment: 'go' })).status).toBe(200);
      return id;
    },
    async hosts(id: string, query = ''): Promise<{ hosts: any[]; total: number; counts: Record<string, number> }> {
      const res = await stack.call('GET', `/v1/patches/${id}/hosts?limit=1000${query}`, { token: who.aude });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    },
    async packageVersion(assetId: string, name: string): Promise<string> {
      const res = await stack.call('GET', `/v1/assets/${assetId}`, { token: who.aude });
      return res.body.packages.find((p: any) => p.name === name)?.version;
    },
  };
}

/** Successful install records per host: more than one for a host and attempt would be a double install. */
export async function installsPerHost(stack: TestStack, patchId: string): Promise<Map<string, number>> {
  const { rows } = await stack.pool.query<{ asset_id: string; installs: number }>(
    `SELECT asset_id, count(*)::int AS installs FROM deployment_records
     WHERE patch_id = $1 AND step = 'install' AND ok GROUP BY asset_id, attempt`,
    [patchId],
  );
  const byHost = new Map<string, number>();
  for (const r of rows) byHost.set(r.asset_id, Math.max(byHost.get(r.asset_id) ?? 0, r.installs));
  return byHost;
}

/** The largest history of the patch's workflow and its wave children. */
export async function largestHistory(stack: TestStack, patchId: string): Promise<{ workflowId: string; events: number }> {
  let largest = { workflowId: '', events: 0 };
  for await (const wf of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH "patch-${patchId}"` })) {
    const events = wf.historyLength;
    if (events > largest.events) largest = { workflowId: `${wf.workflowId}/${wf.runId}`, events };
  }
  return largest;
}
