/**
 * npm run demo — one emergency patch end to end on the running stack (`npm start` in another
 * terminal), through the HTTP API only, as demo people would drive it:
 *
 *   a synthetic fleet of 30 Ubuntu 22.04 hosts (lab, pilot, a web and a db cluster, app servers;
 *   one host unreachable, one slow) → the regreSSHion advisory USN-6859-1 with its CVE and KEV
 *   records from the repository's fixtures (fixtures/feeds) → an emergency
 *   patch: one review, an approval with the maintenance-window bypass, lab test, pilot, three
 *   production waves, verification, an approver's exception for the unreachable host,
 *   monitoring, the postmortem → the report and the Temporal Web UI link.
 *
 * Configuration: PATCHFLOW_API_URL (default http://127.0.0.1:$PORT, PORT 3000),
 * PATCHFLOW_ADMIN_TOKEN (else the token `npm start` keeps in $PATCHFLOW_DATA_DIR/admin-token),
 * PATCHFLOW_TEMPORAL_UI_PORT (8233).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const env = process.env;
const API = env.PATCHFLOW_API_URL ?? `http://127.0.0.1:${env.PORT ?? 3000}`;
const UI = `http://127.0.0.1:${env.PATCHFLOW_TEMPORAL_UI_PORT ?? 8233}`;
const FEEDS = path.resolve(__dirname, '..', 'fixtures', 'feeds');
const VULNERABLE = '1:8.9p1-3ubuntu0.6';

function adminToken(): string {
  if (env.PATCHFLOW_ADMIN_TOKEN) return env.PATCHFLOW_ADMIN_TOKEN;
  const file = path.join(env.PATCHFLOW_DATA_DIR ?? '.patchflow', 'admin-token');
  if (!fs.existsSync(file)) throw new Error(`No admin token: set PATCHFLOW_ADMIN_TOKEN, or start the stack with npm start first (${file})`);
  return fs.readFileSync(file, 'utf8').trim();
}

async function call(method: string, route: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(`${API}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
}

/** The advisory: the real regreSSHion notice with its CVE record and the KEV catalog, from the repository's fixtures. */
async function importAdvisory(operator: string): Promise<string> {
  const read = (...parts: string[]) => JSON.parse(fs.readFileSync(path.join(FEEDS, ...parts), 'utf8'));
  await call('POST', '/v1/feeds/osv', operator, read('osv', 'ubuntu', 'USN-6859-1.json'));
  await call('POST', '/v1/feeds/cve', operator, read('cve', 'CVE-2024-6387.json'));
  await call('POST', '/v1/feeds/kev', operator, read('kev', 'known_exploited_vulnerabilities.json'));
  console.log('advisory: USN-6859-1 (openssh, CVE-2024-6387 "regreSSHion") from fixtures/feeds');
  return 'USN-6859-1';
}

function fleet() {
  const host = (id: string, extra: Record<string, unknown>) => ({
    id,
    hostname: `${id}.demo.example`,
    os: { name: 'ubuntu', version: '22.04' },
    criticality: 'medium',
    exposure: 'internal',
    owner: 'team-demo',
    timezone: 'Europe/Berlin',
    // outside these windows only the emergency bypass lets the patch in
    maintenanceWindows: [{ days: ['sat', 'sun'], start: '01:00', end: '05:00' }],
    packages: [
      { name: 'openssh-server', source: 'openssh', version: VULNERABLE, arch: 'amd64' },
      { name: 'openssh-client', source: 'openssh', version: VULNERABLE, arch: 'amd64' },
    ],
    connector: 'simulated',
    simulation: { installMs: 150 },
    ...extra,
  });
  return [
    host('demo-lab-web', { environment: 'lab', role: 'web' }),
    host('demo-lab-db', { environment: 'lab', role: 'db' }),
    host('demo-lab-app', { environment: 'lab', role: 'app' }),
    ...['web', 'db', 'app'].map((role, i) => host(`demo-pilot-${i + 1}`, { environment: 'pilot', role })),
    ...Array.from({ length: 6 }, (_, i) =>
      host(`demo-web-${i + 1}`, {
        environment: 'production',
        role: 'web',
        redundancyGroup: 'demo-web',
        exposure: 'internet',
        criticality: 'high',
      }),
    ),
    ...Array.from({ length: 3 }, (_, i) =>
      host(`demo-db-${i + 1}`, { environment: 'production', role: 'db', redundancyGroup: 'demo-db', criticality: 'critical' }),
    ),
    ...Array.from({ length: 15 }, (_, i) =>
      host(`demo-app-${i + 1}`, {
        environment: 'production',
        role: 'app',
        simulation: { installMs: i === 4 ? 1500 : 150, unreachable: i === 12 },
      }),
    ),
  ];
}

async function main() {
  const admin = adminToken();
  const suffix = crypto.randomBytes(2).toString('hex');
  const person = async (name: string, roles: string[]) =>
    (await call('POST', '/v1/users', admin, { name: `${name}-${suffix}`, roles })).token as string;
  const opal = await person('opal', ['operator']);
  const rita = await person('rita', ['reviewer']);
  const carl = await person('carl', ['approver']);
  const aude = await person('aude', ['auditor']);
  console.log(`people: opal (operator), rita (reviewer), carl (approver), aude (auditor), suffixed -${suffix}`);

  const advisory = await importAdvisory(opal);
  const assets = fleet();
  await call('PUT', '/v1/assets', opal, { assets });
  console.log(
    `fleet: ${assets.length} hosts (3 lab, 3 pilot, web cluster of 6, db cluster of 3, 15 app servers; demo-app-13 unreachable, demo-app-5 slow)`,
  );

  const { id } = await call('POST', '/v1/patches', opal, {
    advisoryIds: [advisory],
    title: 'Emergency: regreSSHion on the demo fleet',
    emergency: true,
    settings: {
      productionWaves: 3,
      maxPerGroupPerWave: 2,
      maxConcurrent: 4,
      pilotBakeTime: '3s',
      bakeTime: '2s',
      monitoringWindow: '5s',
      stragglerRetryInterval: '2s',
    },
  });
  console.log(`patch ${id} opened by opal\n`);

  const started = Date.now();
  let lastLine = '';
  let excepted = false;
  for (;;) {
    const s = await call('GET', `/v1/patches/${id}`, aude);
    const hosts = Object.entries(s.hosts as Record<string, number>)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    const line = `${s.phase.padEnd(12)} ${s.state.padEnd(8)} ${s.awaiting !== 'nothing' ? `awaiting ${s.awaiting}` : ''}${hosts ? ` | hosts: ${hosts}` : ''}`;
    if (line !== lastLine) console.log(`+${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}`);
    lastLine = line;

    if (s.awaiting === 'reviews' && s.reviews.length === 0) {
      await call('POST', `/v1/patches/${id}/reviews`, rita, {
        verdict: 'approve',
        comment: 'Pre-auth RCE in sshd on internet-facing hosts: emergency confirmed',
      });
      console.log(`         rita reviews: approve (priority ${s.priority}: ${s.priorityReasons[0]})`);
    } else if (s.awaiting === 'decision') {
      await call('POST', `/v1/patches/${id}/decision`, carl, {
        decision: 'approve',
        comment: 'Go now, outside the windows',
        bypassMaintenanceWindows: true,
      });
      console.log('         carl approves, with the emergency bypass of maintenance windows');
    } else if (s.awaiting === 'lab-decision') {
      console.log(`         the lab needs a decision: ${s.halt.reason}`);
      await call('POST', `/v1/patches/${id}/decision`, carl, { decision: 'deploy-anyway', comment: 'understood; go on' });
    } else if (s.phase === 'verification' && !excepted && s.stragglers.some((h: any) => h.attempts >= 2)) {
      const straggler = s.stragglers[0];
      console.log(`         straggler ${straggler.assetId}: ${straggler.reason} (${straggler.attempts} attempts)`);
      await call('POST', `/v1/patches/${id}/exceptions`, carl, {
        assetId: straggler.assetId,
        compensatingControl: 'sshd disabled and port 22 blocked at the firewall until the host is rebuilt',
        expiresAt: new Date(Date.now() + 14 * 86_400_000).toISOString(),
      });
      console.log(`         carl excepts ${straggler.assetId} for 14 days under a compensating control`);
      excepted = true;
    } else if (s.awaiting === 'postmortem') {
      await call('POST', `/v1/patches/${id}/postmortem`, opal, {
        lessonsLearned: 'The emergency path took minutes; demo-app-13 must be rebuilt before the next patch.',
        actions: ['rebuild demo-app-13', 'add a second lab db host'],
      });
      console.log('opal adds the lessons learned');
    } else if (s.state === 'done') {
      console.log(`\n${await call('GET', `/v1/patches/${id}/report?format=md`, aude)}`);
      console.log(`\npatch ${id}: ${s.outcome} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      console.log(`per host:        ${API}/v1/patches/${id}/hosts`);
      console.log(`report (CSV):    ${API}/v1/patches/${id}/report?format=csv`);
      console.log(`Temporal Web UI: ${UI}/namespaces/default/workflows/patch-${id}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
