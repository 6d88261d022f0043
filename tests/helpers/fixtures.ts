/** The real public records kept in the repository under `fixtures/` (see fixtures/README.md). */
import fs from 'node:fs';
import path from 'node:path';

export const FIXTURES = path.resolve(__dirname, '..', '..', 'fixtures');
/** Advisory feeds: `osv/<distribution>/`, `cve/`, `kev/`. */
export const FEEDS = path.join(FIXTURES, 'feeds');

export function readJson<T = any>(...parts: string[]): T {
  return JSON.parse(fs.readFileSync(path.join(FEEDS, ...parts), 'utf8')) as T;
}

/** Every JSON file of a folder under fixtures/feeds, parsed, in name order. */
export function readJsonDir<T = any>(dir: string): T[] {
  const folder = path.join(FEEDS, dir);
  return fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(folder, f), 'utf8')) as T);
}

export const osvRecords = () => ['ubuntu', 'debian', 'alpine', 'maven'].flatMap((d) => readJsonDir(path.join('osv', d)));
export const cveRecords = () => readJsonDir('cve');
export const kevCatalog = () => readJson('kev', 'known_exploited_vulnerabilities.json');
