import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../helpers/servers';
import { FEEDS } from '../helpers/fixtures';

const run = promisify(execFile);
const CLI = path.resolve(__dirname, '..', '..', 'bin', 'patchflow.js');
let stack: TestStack;
let token: string;

beforeAll(async () => {
  stack = await startTestStack();
  token = await stack.user('importer', ['operator']);
});
afterAll(() => stack?.stop());

const patchflow = async (...args: string[]) =>
  (await run(process.execPath, [CLI, ...args, '--api', stack.baseUrl, '--token', token])).stdout;

it('imports fixtures/feeds with `patchflow import`, and a second time changes nothing', async () => {
  const osvCount = ['ubuntu', 'debian', 'alpine', 'maven'].reduce((n, d) => n + fs.readdirSync(path.join(FEEDS, 'osv', d)).length, 0);
  expect(await patchflow('import', 'osv', path.join(FEEDS, 'osv'))).toBe(
    `osv: ${osvCount} records: ${osvCount} imported, 0 updated, 0 unchanged\n`,
  );
  expect(await patchflow('import', 'cve', path.join(FEEDS, 'cve'))).toMatch(/^cve: 14 records: 14 imported/);
  expect(await patchflow('import', 'kev', path.join(FEEDS, 'kev'))).toMatch(/^kev known_exploited_vulnerabilities.json: 1404 imported/);

  expect(await patchflow('import', 'osv', path.join(FEEDS, 'osv'))).toBe(
    `osv: ${osvCount} records: 0 imported, 0 updated, ${osvCount} unchanged\n`,
  );
  expect(await patchflow('import', 'cve', path.join(FEEDS, 'cve'))).toBe('cve: 14 records: 0 imported, 0 updated, 14 unchanged\n');
  expect(await patchflow('import', 'kev', path.join(FEEDS, 'kev'))).toMatch(/0 imported, 0 updated, 1404 unchanged/);
});

it('imports assets from CSV and reports a bad file with the API error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-import-'));
  const good = path.join(dir, 'fleet.csv');
  fs.writeFileSync(
    good,
    'id,hostname,environment,os_name,os_version,criticality,exposure,packages\nweb-9,web-9.x,production,ubuntu,22.04,high,internet,sudo=1.9.9-1ubuntu2.4\n',
  );
  expect(await patchflow('import', 'assets', good)).toBe('assets: 1 upserted\n');
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify([{ id: 'web-10' }]));
  const failure = await patchflow('import', 'assets', bad).catch((err) => err);
  expect(failure.stderr).toContain('400 Invalid request body: body.assets[0] (web-10).hostname');
  fs.rmSync(dir, { recursive: true, force: true });
});
