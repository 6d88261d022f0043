/**
 * CVE JSON 5 records (dataVersion 5.x): the fields patchflow uses, and which CVSS score wins.
 */
import { z } from 'zod';

const MetricEntry = z.looseObject({
  cvssV4_0: z.looseObject({ baseScore: z.number(), vectorString: z.string() }).optional(),
  cvssV3_1: z.looseObject({ baseScore: z.number(), vectorString: z.string() }).optional(),
  cvssV3_0: z.looseObject({ baseScore: z.number(), vectorString: z.string() }).optional(),
  cvssV2_0: z.looseObject({ baseScore: z.number(), vectorString: z.string() }).optional(),
});

const Container = z.looseObject({
  providerMetadata: z.looseObject({ shortName: z.string().optional() }).optional(),
  descriptions: z.array(z.looseObject({ lang: z.string(), value: z.string() })).optional(),
  metrics: z.array(MetricEntry).optional(),
  problemTypes: z.array(z.looseObject({ descriptions: z.array(z.looseObject({ cweId: z.string().optional() })).optional() })).optional(),
});

export const CveRecord = z.looseObject({
  dataType: z.literal('CVE_RECORD'),
  dataVersion: z.string().regex(/^5\./, 'a CVE JSON 5 record'),
  cveMetadata: z.looseObject({
    cveId: z.string().regex(/^CVE-\d{4}-\d{4,}$/),
    state: z.enum(['PUBLISHED', 'REJECTED']),
    datePublished: z.string().optional(),
    dateUpdated: z.string().optional(),
  }),
  containers: z.looseObject({ cna: Container.optional(), adp: z.array(Container).optional() }),
});
export type CveRecord = z.output<typeof CveRecord>;

export type CvssVersion = '4.0' | '3.1' | '3.0' | '2.0';
export interface CvssScore {
  version: CvssVersion;
  baseScore: number;
  vector: string;
  /** `cna`, or `adp:<provider>` such as `adp:CISA-ADP`. */
  source: string;
}

const METRIC_KEYS: [keyof z.infer<typeof MetricEntry>, CvssVersion][] = [
  ['cvssV4_0', '4.0'],
  ['cvssV3_1', '3.1'],
  ['cvssV3_0', '3.0'],
  ['cvssV2_0', '2.0'],
];

/** Every CVSS metric in the record, from the CNA and from each ADP container. */
export function cvssScores(record: CveRecord): CvssScore[] {
  const containers: [string, z.infer<typeof Container>][] = [];
  if (record.containers.cna) containers.push(['cna', record.containers.cna]);
  for (const adp of record.containers.adp ?? []) containers.push([`adp:${adp.providerMetadata?.shortName ?? 'unknown'}`, adp]);
  const scores: CvssScore[] = [];
  for (const [source, container] of containers) {
    for (const metric of container.metrics ?? []) {
      for (const [key, version] of METRIC_KEYS) {
        const value = metric[key] as { baseScore: number; vectorString: string } | undefined;
        if (value) scores.push({ version, baseScore: value.baseScore, vector: value.vectorString, source });
      }
    }
  }
  return scores;
}

const VERSION_RANK: Record<CvssVersion, number> = { '4.0': 4, '3.1': 3, '3.0': 2, '2.0': 1 };

/**
 * The score that counts: the newest CVSS version present wins (4.0, then 3.1, 3.0, 2.0); within a
 * version the CNA's own score wins over an ADP's (the CNA knows the product; ADPs such as
 * CISA-ADP fill gaps). Undefined when the record has no CVSS at all.
 */
export function preferredScore(scores: CvssScore[]): CvssScore | undefined {
  return [...scores].sort(
    (a, b) =>
      VERSION_RANK[b.version] - VERSION_RANK[a.version] ||
      Number(b.source === 'cna') - Number(a.source === 'cna') ||
      b.baseScore - a.baseScore,
  )[0];
}

export function englishDescription(record: CveRecord): string | undefined {
  const descriptions = record.containers.cna?.descriptions ?? [];
  return (descriptions.find((d) => d.lang.toLowerCase().startsWith('en')) ?? descriptions[0])?.value;
}

export function cweIds(record: CveRecord): string[] {
  const ids = new Set<string>();
  for (const container of [record.containers.cna, ...(record.containers.adp ?? [])]) {
    for (const problem of container?.problemTypes ?? []) {
      for (const d of problem.descriptions ?? []) if (d.cweId) ids.add(d.cweId);
    }
  }
  return [...ids].sort();
}

/** When the record last changed: `dateUpdated`, else `datePublished`. */
export function cveUpdatedAt(record: CveRecord): string {
  return record.cveMetadata.dateUpdated ?? record.cveMetadata.datePublished ?? '1970-01-01T00:00:00Z';
}
