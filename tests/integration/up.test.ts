/**
 * `patchflow up` as a user runs it (the compiled CLI, `npm test` builds it first): the whole stack
 * starts, answers, stops on Ctrl-C without leaving processes behind, and keeps patches across a
 * restart.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { portInUse } from '../../src/runtime/ports';
import { stablePorts } from '../helpers/ports';
import { testAsset } from '../helpers/assets';
import { FEEDS } from '../helpers/fixtures';
import { callApi, processesUsing, startUp, type RunningUp, type UpPorts } from '../helpers/up-process';

const run = promisify(execFile);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-up-'));
fs.chmodSync(dataDir, 0o755);
let stack: ChildProcess | undefined;

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    stack.kill('SIGKILL');
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function startStack(ports: UpPorts): Promise<RunningUp> {
  const started = await startUp(dataDir, ports);
  stack = started.child;
  return started;
}

async function temporalCli(ports: UpPorts, ...args: string[]): Promise<string> {
  const { stdout } = await run(inject('temporalCliPath'), [...args, '--address', `127.0.0.1:${ports.temporal}`]);
  return stdout;
}

const api = (ports: UpPorts, method: string, route: string, token: string, body?: unknown) =>
  callApi(ports.api, method, route, token, body);

describe('patchflow up', () => {
  it('starts everything, survives a restart, and stops cleanly on Ctrl-C and SIGTERM', { timeout: 180_000 }, async () => {
    const [apiPort, temporalPort, uiPort, pgPort] = (await stablePorts(4)) as [number, number, number, number];
    const ports: UpPorts = { api: apiPort, temporal: temporalPort, ui: uiPort, pg: pgPort };

    // first start: initialises the data directory
    const first = await startStack(ports);
    expect(first.banner).toContain(`API              http://127.0.0.1:${ports.api}`);
    expect(first.banner).toContain(`Temporal Web UI  http://127.0.0.1:${ports.ui}`);
    // the admin token is in its file, and on a terminal only: the test's pipe is none
    const token = fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    expect(first.banner).toMatch(/Admin token\s+kept in .*admin-token; shown only on a terminal/);
    expect(first.banner).not.toContain(token);

    const ready = await fetch(`http://127.0.0.1:${ports.api}/readyz`);
    expect(ready.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);

    const attributes = await temporalCli(ports, 'operator', 'search-attribute', 'list');
    for (const name of ['PatchId', 'PatchPhase', 'PatchState', 'PatchPriority', 'PatchEmergency', 'PatchAdvisories']) {
      expect(attributes).toContain(name);
    }

    const operator = await api(ports, 'POST', '/v1/users', token, { name: 'olivia', roles: ['operator'] });
    expect(operator.status).toBe(201);
    const notice = JSON.parse(fs.readFileSync(path.join(FEEDS, 'osv', 'ubuntu', 'USN-6859-1.json'), 'utf8'));
    expect((await api(ports, 'POST', '/v1/feeds/osv', operator.body.token, notice)).status).toBe(200);
    const host = testAsset('web-01', {
      criticality: 'high',
      exposure: 'internet',
      packages: [{ name: 'openssh-server', version: '1:8.9p1-3ubuntu0.6', source: 'openssh' }],
    });
    expect((await api(ports, 'PUT', '/v1/assets', operator.body.token, { assets: [host] })).status).toBe(200);
    const patch = await api(ports, 'POST', '/v1/patches', operator.body.token, { advisoryIds: ['USN-6859-1'], emergency: true });
    expect(patch.status).toBe(201);

    let listed = '';
    for (let i = 0; i < 50 && !listed.includes(patch.body.workflowId); i++) {
      listed = await temporalCli(ports, 'workflow', 'list', '--query', `PatchId='${patch.body.id}'`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toContain(patch.body.workflowId);
    expect(listed).toContain('Running');

    // Ctrl-C: SIGINT to the foreground process group
    process.kill(-first.child.pid!, 'SIGINT');
    expect(await first.exited).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);
    for (const port of Object.values(ports)) expect(await portInUse(port)).toBe(false);

    // second start: same data, the patch and its running workflow are still there
    const second = await startStack(ports);
    expect(second.banner).not.toContain(token);
    // Ctrl-C may have come in the middle of the assessment: then its activity runs again now.
    // Until the new worker has replayed the patch, its query may answer 503 `unavailable`.
    let status = await api(ports, 'GET', `/v1/patches/${patch.body.id}`, operator.body.token);
    const settling = () => status.status === 503 || (status.status === 200 && status.body.phase === 'assessment');
    for (let i = 0; i < 120 && settling(); i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = await api(ports, 'GET', `/v1/patches/${patch.body.id}`, operator.body.token);
    }
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      id: patch.body.id,
      requestedBy: 'olivia',
      phase: 'peer-review',
      state: 'waiting',
      targets: { production: 1 },
    });

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);

    // the data directory's secrets are readable by their owner only (docs/security.md)
    const mode = (...parts: string[]) => fs.statSync(path.join(dataDir, ...parts)).mode & 0o777;
    expect(mode('admin-token')).toBe(0o600);
    expect(mode('postgres', 'password')).toBe(0o600);
    expect(mode('keys')).toBe(0o700);
    const keys = fs.readdirSync(path.join(dataDir, 'keys')).filter((f) => f.endsWith('.key'));
    expect(keys).toEqual(expect.arrayContaining(['updates.key', 'work-orders.key']));
    for (const key of keys) expect(mode('keys', key), key).toBe(0o600);

    // and no secret in anything either run printed, logs included
    const printed = [first, second].map((run) => run.stdout() + run.stderr()).join('\n');
    const secrets = [token, operator.body.token, ...keys.map((key) => fs.readFileSync(path.join(dataDir, 'keys', key), 'utf8').trim())];
    for (const secret of secrets) expect(printed).not.toContain(secret);
  });
});
