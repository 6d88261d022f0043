/**
 * OSV records (schema 1.x): the zod schema for what patchflow reads, normalisation for storage,
 * and the affected-version rules of the OSV specification.
 */
import { z } from 'zod';
import { compareVersions, schemeForEcosystem, type VersionScheme } from './versions';

const Event = z.union([
  z.object({ introduced: z.string() }),
  z.object({ fixed: z.string() }),
  z.object({ last_affected: z.string() }),
  z.object({ limit: z.string() }),
]);

const Range = z.looseObject({
  type: z.enum(['ECOSYSTEM', 'SEMVER', 'GIT']),
  repo: z.string().optional(),
  events: z.array(Event).min(1),
});

const Severity = z.looseObject({ type: z.string(), score: z.string() });

const Affected = z.looseObject({
  package: z.looseObject({ ecosystem: z.string().min(1), name: z.string().min(1), purl: z.string().optional() }).optional(),
  ranges: z.array(Range).optional(),
  versions: z.array(z.string()).optional(),
  severity: z.array(Severity).optional(),
  ecosystem_specific: z.looseObject({ binaries: z.array(z.unknown()).optional() }).optional(),
  database_specific: z.unknown().optional(),
});

/** One OSV record. Unknown fields are kept (the format grows); the ones we use are checked. */
export const OsvRecord = z.looseObject({
  schema_version: z.string().optional(),
  id: z.string().min(1).max(200),
  modified: z.iso.datetime({ offset: true }),
  published: z.iso.datetime({ offset: true }).optional(),
  withdrawn: z.iso.datetime({ offset: true }).optional(),
  aliases: z.array(z.string()).nullish(),
  upstream: z.array(z.string()).nullish(),
  related: z.array(z.string()).nullish(),
  summary: z.string().optional(),
  details: z.string().optional(),
  severity: z.array(Severity).nullish(),
  affected: z.array(Affected).default([]),
  references: z.array(z.unknown()).nullish(),
  database_specific: z.unknown().optional(),
});
export type OsvRecord = z.output<typeof OsvRecord>;
export type OsvAffected = z.output<typeof Affected>;

const CVE_ID = /CVE-\d{4}-\d{4,}/;

/** The CVEs an advisory is about: its own id, aliases, upstream ids (`UBUNTU-CVE-…`), and the CVE map. */
export function advisoryCves(record: OsvRecord): string[] {
  const ids = [record.id, ...(record.aliases ?? []), ...(record.upstream ?? [])];
  for (const affected of record.affected) {
    const map = (affected.database_specific as { cves_map?: { cves?: { id?: string }[] } } | undefined)?.cves_map;
    for (const cve of map?.cves ?? []) if (cve.id) ids.push(cve.id);
  }
  const cves = ids.map((id) => CVE_ID.exec(id)?.[0]).filter((id): id is string => Boolean(id));
  return [...new Set(cves)].sort();
}

/** Binary package names of an affected entry (Ubuntu's `ecosystem_specific.binaries`). */
export function binaryNames(affected: OsvAffected): string[] {
  const names: string[] = [];
  for (const binary of affected.ecosystem_specific?.binaries ?? []) {
    const name = (binary as { binary_name?: unknown }).binary_name;
    if (typeof name === 'string') names.push(name);
  }
  return names;
}

/** Every package name that can match this advisory: source names and binary names. */
export function advisoryPackageNames(record: OsvRecord): string[] {
  const names = new Set<string>();
  for (const affected of record.affected) {
    if (affected.package) names.add(affected.package.name);
    for (const name of binaryNames(affected)) names.add(name);
  }
  return [...names].sort();
}

export interface VersionVerdict {
  affected: boolean;
  /** The lowest fixed version above the installed one, when the advisory names one. */
  fixedVersion?: string;
}

/**
 * Is `version` affected by this entry? The OSV rules: in any range, a version is affected from an
 * `introduced` event until a `fixed` event (exclusive) or through a `last_affected` event
 * (inclusive); a `limit` caps the range; a version listed in `versions` is affected. GIT ranges
 * speak of commits, not package versions, and are ignored.
 */
export function evaluateAffected(affected: OsvAffected, version: string, scheme: VersionScheme): VersionVerdict {
  const cmp = (a: string, b: string) => compareVersions(scheme, a, b);
  let isAffected = (affected.versions ?? []).some((listed) => cmp(listed, version) === 0);
  const fixes: string[] = [];

  for (const range of affected.ranges ?? []) {
    if (range.type === 'GIT') continue;
    const events = [...range.events].sort(byEventVersion(cmp));
    let inRange = false;
    for (const event of events) {
      if ('introduced' in event) {
        if (event.introduced === '0' || cmp(version, event.introduced) >= 0) inRange = true;
      } else if ('fixed' in event) {
        if (cmp(version, event.fixed) < 0) {
          // the first fix above the installed version closes the interval it sits in
          if (inRange) fixes.push(event.fixed);
          break;
        }
        inRange = false;
      } else if ('last_affected' in event) {
        if (cmp(version, event.last_affected) <= 0) break;
        inRange = false;
      } else if (event.limit !== '*' && cmp(version, event.limit) >= 0) {
        inRange = false;
      }
    }
    if (inRange) isAffected = true;
  }
  if (!isAffected) return { affected: false };
  const fixedVersion = fixes.sort(cmp)[0];
  return fixedVersion === undefined ? { affected: true } : { affected: true, fixedVersion };
}

/** Events in version order; `introduced: "0"` (the beginning of time) first. */
function byEventVersion(cmp: (a: string, b: string) => number) {
  const key = (event: z.infer<typeof Event>): string | undefined => {
    if ('introduced' in event) return event.introduced === '0' ? undefined : event.introduced;
    if ('fixed' in event) return event.fixed;
    if ('last_affected' in event) return event.last_affected;
    return event.limit;
  };
  return (a: z.infer<typeof Event>, b: z.infer<typeof Event>) => {
    const [ka, kb] = [key(a), key(b)];
    if (ka === undefined || kb === undefined) return ka === kb ? 0 : ka === undefined ? -1 : 1;
    return cmp(ka, kb);
  };
}

/** Version scheme of an affected entry's ecosystem, or undefined when we cannot compare it. */
export function schemeOf(affected: OsvAffected): VersionScheme | undefined {
  return affected.package ? schemeForEcosystem(affected.package.ecosystem) : undefined;
}
