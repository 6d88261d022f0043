/**
 * Which hosts an advisory applies to, and the fixed version each needs. Input: the candidate
 * groups of the SQL prefilter (hosts sharing an OS release and a package set, with the packages
 * whose names the advisory mentions). Exact version comparison per ecosystem happens here.
 */
import { osEcosystems, type Criticality, type Exposure } from './asset';
import type { Environment } from './patch';
import { binaryNames, evaluateAffected, schemeOf, type OsvRecord } from './osv';

export interface CandidateAsset {
  id: string;
  environment: Environment;
  criticality: Criticality;
  exposure: Exposure;
  compensatingControls: string[];
}

export interface CandidateGroup {
  osName: string;
  osVersion: string;
  assets: CandidateAsset[];
  /** `ecosystem` is empty for the OS's own packages, or a language ecosystem such as `Maven`. */
  packages: { name: string; version: string; source: string; ecosystem: string }[];
}

export interface AffectedPackage {
  asset: CandidateAsset;
  advisoryId: string;
  package: string;
  installedVersion: string;
  fixedVersion: string | null;
}

/**
 * A host package matches an affected entry when they are in the same ecosystem (the OS release's
 * OSV ecosystems, or the package's own language ecosystem) and the entry names the package:
 * by source package name, or by one of its binary package names.
 */
export function affectedPackages(advisory: OsvRecord, groups: CandidateGroup[]): AffectedPackage[] {
  if (advisory.withdrawn) return [];
  const results: AffectedPackage[] = [];
  // hosts share package versions, so each (entry, version) is compared once
  const memo = new Map<string, ReturnType<typeof evaluateAffected>>();
  const entries = advisory.affected.map((entry) => ({
    entry,
    scheme: schemeOf(entry),
    names: new Set(entry.package ? [entry.package.name, ...binaryNames(entry)] : []),
  }));
  for (const group of groups) {
    const osEcos = new Set(osEcosystems({ name: group.osName, version: group.osVersion }));
    // per package of this group: the first verdict found, preferring one that names a fix
    const verdicts = new Map<string, { installed: string; fixed: string | null }>();
    for (const [index, { entry, scheme, names }] of entries.entries()) {
      if (!entry.package || !scheme) continue;
      for (const p of group.packages) {
        const sameEcosystem = p.ecosystem ? p.ecosystem === entry.package.ecosystem : osEcos.has(entry.package.ecosystem);
        if (!sameEcosystem || !(p.source === entry.package.name || names.has(p.name))) continue;
        const key = `${index}\u0000${p.version}`;
        let verdict = memo.get(key);
        if (!verdict) memo.set(key, (verdict = evaluateAffected(entry, p.version, scheme)));
        if (!verdict.affected) continue;
        const previous = verdicts.get(p.name);
        if (!previous || (previous.fixed === null && verdict.fixedVersion)) {
          verdicts.set(p.name, { installed: p.version, fixed: verdict.fixedVersion ?? null });
        }
      }
    }
    for (const [name, verdict] of verdicts) {
      for (const asset of group.assets) {
        results.push({ asset, advisoryId: advisory.id, package: name, installedVersion: verdict.installed, fixedVersion: verdict.fixed });
      }
    }
  }
  return results;
}
