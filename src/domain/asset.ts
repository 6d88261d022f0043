/** The inventory's asset (docs/http-api.md, "Assets") and the zod schema every import path validates with. */
import { z } from 'zod';
import { ENVIRONMENTS } from './patch';
import { schemeForEcosystem, type VersionScheme } from './versions';

export const CRITICALITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Criticality = (typeof CRITICALITIES)[number];
export const EXPOSURES = ['internet', 'internal', 'isolated'] as const;
export type Exposure = (typeof EXPOSURES)[number];
/** Who changes the host: the simulated fleet (fault injection) or a host agent running the real package manager. */
export const CONNECTORS = ['simulated', 'agent'] as const;
export type ConnectorName = (typeof CONNECTORS)[number];
export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM');

export const MaintenanceWindow = z.strictObject({
  days: z.array(z.enum(DAYS)).min(1),
  start: clock,
  end: clock,
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

export const InstalledPackage = z.strictObject({
  name: z.string().min(1).max(200),
  version: z.string().min(1).max(200),
  source: z.string().min(1).max(200).optional(),
  arch: z.string().min(1).max(50).optional(),
  /** A language ecosystem (OSV name: Maven, npm, Go, …) for packages the OS does not manage. */
  ecosystem: z.string().min(1).max(50).optional(),
});
export type InstalledPackage = z.infer<typeof InstalledPackage>;

export const Simulation = z.strictObject({
  installMs: z.number().int().min(0).max(600_000).default(20),
  failInstall: z.boolean().default(false),
  failReboot: z.boolean().default(false),
  unreachable: z.boolean().default(false),
  diskFull: z.boolean().default(false),
  failVerify: z.boolean().default(false),
});

export const AssetSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, dot, underscore and hyphen'),
  hostname: z.string().min(1).max(253),
  environment: z.enum(ENVIRONMENTS),
  os: z.strictObject({ name: z.string().min(1).max(50).toLowerCase(), version: z.string().min(1).max(50) }),
  criticality: z.enum(CRITICALITIES),
  exposure: z.enum(EXPOSURES),
  role: z.string().min(1).max(100).optional(),
  redundancyGroup: z.string().min(1).max(100).optional(),
  owner: z.string().min(1).max(100).optional(),
  timezone: z.string().refine(isTimeZone, 'an IANA time zone such as Europe/Berlin').default('UTC'),
  maintenanceWindows: z.array(MaintenanceWindow).default([]),
  /** Controls already in place that reduce the risk (WAF rule, service disabled, …). */
  compensatingControls: z.array(z.string().min(1).max(200)).default([]),
  packages: z.array(InstalledPackage).max(20_000).default([]),
  connector: z.enum(CONNECTORS).default('simulated'),
  simulation: Simulation.optional(),
});
export type Asset = z.output<typeof AssetSchema>;

/** The column names of an asset's scalar fields, shared by the `assets` table and the CSV import. */
export type AssetColumn =
  | 'id'
  | 'hostname'
  | 'environment'
  | 'os_name'
  | 'os_version'
  | 'criticality'
  | 'exposure'
  | 'role'
  | 'redundancy_group'
  | 'owner'
  | 'timezone'
  | 'connector';

/** An asset's scalar fields from a flat row of named columns (a table row, a CSV line). */
export function assetFieldsFromColumns<V>(column: (name: AssetColumn) => V) {
  return {
    id: column('id'),
    hostname: column('hostname'),
    environment: column('environment'),
    os: { name: column('os_name'), version: column('os_version') },
    criticality: column('criticality'),
    exposure: column('exposure'),
    role: column('role'),
    redundancyGroup: column('redundancy_group'),
    owner: column('owner'),
    timezone: column('timezone'),
    connector: column('connector'),
  };
}
export type AssetInput = z.input<typeof AssetSchema>;

/**
 * The OSV ecosystems whose advisories apply to packages of an OS release. Ubuntu LTS releases
 * (even year, .04) are `Ubuntu:22.04:LTS`, and also match the Ubuntu Pro (ESM) records of the same
 * release: a host without Pro is still vulnerable, only its fix needs the subscription.
 */
export function osEcosystems(os: { name: string; version: string }): string[] {
  const name = os.name.toLowerCase();
  const version = os.version.trim();
  const majorMinor = /^(\d+)(?:\.(\d+))?/.exec(version);
  switch (name) {
    case 'ubuntu': {
      const lts = /^\d*[02468]\.04/.test(version);
      return lts ? [`Ubuntu:${version}:LTS`, `Ubuntu:Pro:${version}:LTS`] : [`Ubuntu:${version}`];
    }
    case 'debian':
      return majorMinor ? [`Debian:${majorMinor[1]}`] : [];
    case 'alpine':
      return majorMinor ? [`Alpine:v${majorMinor[1]}.${majorMinor[2] ?? '0'}`] : [];
    case 'rocky':
      return majorMinor ? [`Rocky Linux:${majorMinor[1]}`] : [];
    case 'almalinux':
    case 'alma':
      return majorMinor ? [`AlmaLinux:${majorMinor[1]}`] : [];
    default:
      return [];
  }
}

/** How a host's package versions compare: by the package's own language ecosystem, else by its OS release's. */
export function packageVersionScheme(os: { name: string; version: string }, ecosystem?: string | null): VersionScheme | undefined {
  if (ecosystem) return schemeForEcosystem(ecosystem);
  for (const name of osEcosystems(os)) {
    const scheme = schemeForEcosystem(name);
    if (scheme) return scheme;
  }
  return undefined;
}
