/**
 * npm run bench:assess — the inventory at fleet scale: 100,000 assets with 300 packages each in a
 * real PostgreSQL (embedded unless DATABASE_URL is set), then one advisory touching 10 packages.
 * Prints the import rate and the match time. Targets: import ≥ 20,000 assets/s, match ≤ 2 s.
 *
 * The fleet: 40 images (4 Ubuntu releases × 10 roles) of 300 packages; a fifth of the hosts have
 * drifted, with 1–3 packages at an older version, as real fleets do.
 * Options: ASSETS (default 100000), PACKAGES (300).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import type { Asset, InstalledPackage } from '../src/domain/asset';
import type { OsvRecord } from '../src/domain/osv';
import { upsertAssets } from '../src/db/assets';
import { benchDatabase } from './bench-database';
import { importOsv } from '../src/db/feeds';
import { createLogger } from '../src/logger';
import { findAffected } from '../src/services/assessment';

const ASSETS = Number(process.env.ASSETS ?? 100_000);
const PACKAGES = Number(process.env.PACKAGES ?? 300);
const CHUNK = 10_000;
const RELEASES = ['20.04', '22.04', '24.04', '25.04'];
const ROLES = ['web', 'db', 'cache', 'queue', 'api', 'batch', 'proxy', 'dns', 'mail', 'build'];
/** The advisory's 10 source packages, each with one binary on the hosts. */
const TOUCHED = Array.from({ length: 10 }, (_, i) => ({ source: `vulnsrc${i}`, binary: `libvuln${i}` }));

let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

function imagePackages(release: string, role: string): InstalledPackage[] {
  const packages: InstalledPackage[] = TOUCHED.map((t, i) => ({
    name: t.binary,
    source: t.source,
    version: `1.${i}.0-1ubuntu${release === '22.04' ? 2 : 5}`,
    arch: 'amd64',
  }));
  for (let i = packages.length; i < PACKAGES; i++) {
    packages.push({ name: `pkg-${role}-${i}`, version: `${i % 7}.${i % 13}.${release.replace('.', '')}-1`, arch: 'amd64' });
  }
  return packages;
}

function* fleet(): Generator<Asset> {
  const images = RELEASES.flatMap((release) => ROLES.map((role) => ({ release, role, packages: imagePackages(release, role) })));
  for (let n = 0; n < ASSETS; n++) {
    const image = images[n % images.length]!;
    let packages = image.packages;
    if (random() < 0.2) {
      packages = [...packages];
      for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
        const i = Math.floor(random() * packages.length);
        packages[i] = { ...packages[i]!, version: `${packages[i]!.version}~old${Math.floor(random() * 3)}` };
      }
    }
    yield {
      id: `host-${String(n).padStart(6, '0')}`,
      hostname: `host-${n}.fleet.example`,
      environment: n % 50 === 0 ? 'lab' : n % 10 === 0 ? 'pilot' : 'production',
      os: { name: 'ubuntu', version: image.release },
      criticality: (['low', 'medium', 'high', 'critical'] as const)[n % 4]!,
      exposure: (['internal', 'internet', 'isolated'] as const)[n % 3]!,
      role: image.role,
      redundancyGroup: `${image.role}-${n % 500}`,
      timezone: 'UTC',
      maintenanceWindows: [],
      compensatingControls: [],
      packages,
      connector: 'simulated',
    };
  }
}

const advisory: OsvRecord = {
  id: 'BENCH-0001-1',
  modified: '2026-01-01T00:00:00Z',
  summary: 'benchmark advisory touching 10 packages',
  upstream: ['UBUNTU-CVE-2026-0001'],
  affected: TOUCHED.map((t, i) => ({
    package: { ecosystem: 'Ubuntu:22.04:LTS', name: t.source },
    ranges: [{ type: 'ECOSYSTEM' as const, events: [{ introduced: '0' }, { fixed: `1.${i}.0-1ubuntu3` }] }],
    ecosystem_specific: { binaries: [{ binary_name: t.binary, binary_version: `1.${i}.0-1ubuntu3` }] },
  })),
};

async function main() {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'bench');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-bench-'));
  fs.chmodSync(dir, 0o755); // the embedded server runs as the `postgres` user when we are root
  const database = await benchDatabase(dir, logger);
  const stop = async () => {
    await database.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const pool = new Pool({ connectionString: database.url, max: 4 });
  try {
    console.log(`fleet: ${ASSETS} assets × ${PACKAGES} packages (${((ASSETS * PACKAGES) / 1e6).toFixed(1)} M installed packages)`);
    let imported = 0;
    let importMs = 0;
    let chunk: Asset[] = [];
    const flush = async () => {
      const t = performance.now();
      imported += await upsertAssets(pool, chunk);
      importMs += performance.now() - t;
      chunk = [];
    };
    for (const asset of fleet()) {
      chunk.push(asset);
      if (chunk.length === CHUNK) await flush();
    }
    if (chunk.length) await flush();
    const sets = (await pool.query('SELECT count(*)::int AS n FROM package_sets')).rows[0].n;
    console.log(
      `import: ${imported} assets in ${(importMs / 1000).toFixed(2)} s = ${Math.round(imported / (importMs / 1000))} assets/s (${sets} distinct package sets)`,
    );

    await importOsv(pool, [advisory]);
    await pool.query('ANALYZE');
    const times: number[] = [];
    let affected = 0;
    let hosts = 0;
    for (let run = 0; run < 5; run++) {
      const t = performance.now();
      const result = await findAffected(pool, [advisory.id]);
      times.push(performance.now() - t);
      affected = result.affected.length;
      hosts = new Set(result.affected.map((a) => a.asset.id)).size;
    }
    times.sort((a, b) => a - b);
    console.log(
      `match: ${hosts} affected assets (${affected} affected packages) in ${(times[2]! / 1000).toFixed(3)} s median of 5 ` +
        `(min ${(times[0]! / 1000).toFixed(3)} s, max ${(times[4]! / 1000).toFixed(3)} s)`,
    );
  } finally {
    await pool.end();
    await stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
