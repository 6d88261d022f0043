/**
 * The same phase seen two ways: `temporal workflow list --query "PatchPhase='…'"` (the CLI an
 * auditor would run) and `GET /v1/patches?phase=…`. The dev server is shared by every test
 * file, so the two are compared at a moment the CLI sees no change around the API call.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import type { TestStack } from './servers';

export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function cliWorkflowIds(phase: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(inject('temporalCliPath'), [
    'workflow',
    'list',
    '--query',
    // a patch that continued as new has closed runs in the same phase; the API lists the patch once, by its open run
    `PatchPhase='${phase}' AND ExecutionStatus != 'ContinuedAsNew'`,
    '-o',
    'json',
    '--address',
    inject('temporalAddress'),
    '--namespace',
    'default',
  ]);
  const listed = stdout.trim() ? (JSON.parse(stdout) as { execution: { workflowId: string } }[]) : [];
  return [...new Set(listed.map((w) => w.execution.workflowId))].sort();
}

async function apiWorkflowIds(stack: TestStack, token: string, phase: string): Promise<string[]> {
  const found: string[] = [];
  let pageToken: string | null = null;
  do {
    const res = await stack.call('GET', `/v1/patches?phase=${phase}&limit=100${pageToken ? `&pageToken=${pageToken}` : ''}`, { token });
    if (res.status !== 200) throw new Error(`GET /v1/patches: ${res.status} ${JSON.stringify(res.body)}`);
    found.push(...res.body.patches.map((p: { workflowId: string }) => p.workflowId));
    pageToken = res.body.nextPageToken;
  } while (pageToken);
  return [...new Set(found)].sort();
}

/** The workflow ids in `phase` by the CLI and by the API, once both agree (or after 30 s). */
export async function listedBothWays(stack: TestStack, token: string, phase: string): Promise<{ cli: string[]; api: string[] }> {
  const seen = await eventually(
    async () => {
      const [before, api, after] = [await cliWorkflowIds(phase), await apiWorkflowIds(stack, token, phase), await cliWorkflowIds(phase)];
      return { before, api, after };
    },
    ({ before, api, after }) => JSON.stringify(before) === JSON.stringify(after) && JSON.stringify(api) === JSON.stringify(before),
    30_000,
  );
  return { cli: seen.before, api: seen.api };
}
