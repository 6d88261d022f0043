/** The real advisory data of ../shared/data (read in place, never copied into the project). */
import fs from 'node:fs';
import path from 'node:path';

export const SHARED_DATA = path.resolve(__dirname, '..', '..', '..', 'shared', 'data');

export function readJson<T = any>(...parts: string[]): T {
  return JSON.parse(fs.readFileSync(path.join(SHARED_DATA, ...parts), 'utf8')) as T;
}

/** Every JSON file of a folder under shared/data, parsed, in name order. */
export function readJsonDir<T = any>(dir: string): T[] {
  const folder = path.join(SHARED_DATA, dir);
  return fs
    .readdirSync(folder)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(folder, f), 'utf8')) as T);
}

export const osvRecords = () => ['ubuntu', 'debian', 'alpine', 'maven'].flatMap((d) => readJsonDir(path.join('osv', d)));
export const cveRecords = () => readJsonDir('cve');
export const kevCatalog = () => readJson('kev', 'known_exploited_vulnerabilities.json');
