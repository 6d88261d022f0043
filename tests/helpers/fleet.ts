/**
 * A simulated fleet for "a patch that lives for months": Ubuntu hosts in three sites (New York,
 * Frankfurt, Tokyo), each with a weekend maintenance window in its own time zone, all running an
 * OpenSSH that USN-6859-1 (regreSSHion) affects; lab, pilot and production rings; production in
 * redundancy groups of three; the USN's mitigation (LoginGraceTime 0) on every host as a
 * compensating control. And the policy it runs under: the defaults plus a change freeze over the
 * year-end holidays. No vitest here: the soak test and `npm run bench:soak` both build on it.
 */
import { AssetSchema, type Asset, type AssetInput } from '../../src/domain/asset';
import type { ChangeFreeze, MaintenanceWindow } from '../../src/domain/planner';
import { DEFAULT_POLICY, type Policy } from '../../src/domain/policy';

/** The advisory: OpenSSH, CVE-2024-6387; no CVSS score without the CVE record, so assessed as important, then lowered. */
export const ADVISORY = 'USN-6859-1';

export interface Site {
  name: 'nyc' | 'fra' | 'tyo';
  timezone: string;
  /**
   * Saturday night, local time. New York's and Frankfurt's windows run across 02:00 on Sunday,
   * when their clocks change (US: second Sunday in March, first in November; EU: last Sunday
   * in March and October), so those nights the window is an hour shorter or longer.
   */
  maintenanceWindows: MaintenanceWindow[];
  os: { name: string; version: string };
  /** The installed OpenSSH and the version USN-6859-1 fixes it in on this release. */
  openssh: { installed: string; fixed: string };
}

export const SITES: readonly Site[] = [
  {
    name: 'nyc',
    timezone: 'America/New_York',
    maintenanceWindows: [{ days: ['sat'], start: '22:00', end: '06:00' }],
    os: { name: 'ubuntu', version: '22.04' },
    openssh: { installed: '1:8.9p1-3ubuntu0.6', fixed: '1:8.9p1-3ubuntu0.10' },
  },
  {
    name: 'fra',
    timezone: 'Europe/Berlin',
    maintenanceWindows: [{ days: ['sat'], start: '23:00', end: '05:00' }],
    os: { name: 'ubuntu', version: '22.04' },
    openssh: { installed: '1:8.9p1-3ubuntu0.6', fixed: '1:8.9p1-3ubuntu0.10' },
  },
  {
    name: 'tyo',
    timezone: 'Asia/Tokyo',
    maintenanceWindows: [{ days: ['sat', 'sun'], start: '02:00', end: '06:00' }],
    os: { name: 'ubuntu', version: '24.04' },
    openssh: { installed: '1:9.6p1-3ubuntu13', fixed: '1:9.6p1-3ubuntu13.3' },
  },
];

/** Every role has a lab host (a role without one halts the lab test). */
export const ROLES = ['bastion', 'web', 'db'] as const;
export const MITIGATION = 'LoginGraceTime 0 in sshd_config (the USN-6859-1 mitigation)';
/** Hosts per redundancy group in production: at most one per wave, never a whole group in one. */
export const GROUP_SIZE = 3;

export interface FleetOptions {
  /** Hosts in all (lab, pilot and production). At least 9. */
  size: number;
}

export interface Fleet {
  assets: Asset[];
  byId: ReadonlyMap<string, Asset>;
  siteOf: ReadonlyMap<string, Site>;
  lab: string[];
  pilot: string[];
  production: string[];
}

const pad = (n: number) => String(n).padStart(4, '0');

/**
 * `size` hosts, sites taken in turn: a lab of max(3, 1 %) and a pilot of max(3, 3 %) (every
 * site and role in each), the rest production in redundancy groups of three hosts of one site
 * and role. Instant simulated installs (`installMs` 0, no reboot: openssh-server needs none), no
 * faults: a test injects its own.
 */
export function generateFleet({ size }: FleetOptions): Fleet {
  if (size < 9) throw new RangeError('a fleet needs at least 9 hosts: a lab, a pilot and production in three sites');
  const labSize = Math.max(3, Math.round(size / 100));
  const pilotSize = Math.max(3, Math.round((size * 3) / 100));
  const assets: Asset[] = [];
  const siteOf = new Map<string, Site>();
  const ring = { lab: [] as string[], pilot: [] as string[], production: [] as string[] };
  const add = (environment: 'lab' | 'pilot' | 'production', index: number) => {
    const site = SITES[index % SITES.length]!;
    // roles turn per host in the lab and pilot, per group of three in production
    const role = ROLES[Math.floor(environment === 'production' ? index / SITES.length : index) % ROLES.length]!;
    const id = `${site.name}-${environment === 'production' ? 'prd' : environment}-${role}-${pad(index)}`;
    const input: AssetInput = {
      id,
      hostname: `${id}.${site.name}.corp.example`,
      environment,
      os: site.os,
      criticality: environment === 'production' ? (['medium', 'high', 'low'] as const)[Math.floor(index / 2) % 3]! : 'low',
      exposure: role === 'bastion' ? 'internet' : 'internal',
      role,
      // three hosts of one site and role; 27 production hosts make three groups in each site and role
      ...(environment === 'production'
        ? { redundancyGroup: `${site.name}-${role}-${Math.floor(index / (SITES.length * ROLES.length * GROUP_SIZE))}` }
        : {}),
      owner: `${site.name}-ops`,
      timezone: site.timezone,
      maintenanceWindows: site.maintenanceWindows,
      compensatingControls: [MITIGATION],
      packages: [
        { name: 'openssh-server', version: site.openssh.installed, source: 'openssh', arch: 'amd64' },
        { name: 'openssh-client', version: site.openssh.installed, source: 'openssh', arch: 'amd64' },
      ],
      connector: 'simulated',
      simulation: { installMs: 0 },
    };
    const asset = AssetSchema.parse(input);
    assets.push(asset);
    siteOf.set(id, site);
    ring[environment].push(id);
  };
  for (let i = 0; i < labSize; i++) add('lab', i);
  for (let i = 0; i < pilotSize; i++) add('pilot', i);
  for (let i = 0; i < size - labSize - pilotSize; i++) add('production', i);
  return { assets, byId: new Map(assets.map((a) => [a.id, a])), siteOf, ...ring };
}

/** The same asset with other simulation flags (e.g. unreachable), as a PUT /v1/assets would send it. */
export function withSimulation(asset: Asset, simulation: Partial<NonNullable<Asset['simulation']>>): Asset {
  return AssetSchema.parse({ ...asset, simulation: { ...asset.simulation, ...simulation } });
}

/**
 * The year-end change freeze that follows `from`: from 18 December, as the day begins in Tokyo
 * (the first of the sites to reach it), to 4 January, as it begins in New York (the last).
 */
export function yearEndFreeze(from: Date): ChangeFreeze {
  let year = from.getUTCFullYear();
  if (from.getTime() >= Date.parse(`${year}-12-18T00:00:00+09:00`)) year++;
  return {
    start: `${year}-12-18T00:00:00+09:00`,
    end: `${year + 1}-01-04T00:00:00-05:00`,
    reason: 'year-end holidays: no changes while the sites run on skeleton staff',
  };
}

/** The default policy with the year-end freeze after `from`. */
export function soakPolicy(from: Date): Policy {
  return { ...DEFAULT_POLICY, rollout: { ...DEFAULT_POLICY.rollout, changeFreezes: [yearEndFreeze(from)] } };
}

/**
 * When the simulated patch opens: 20 October, 09:00 UTC, this year or the next, whichever is not
 * before `now` (the test server's clock starts at the machine's). Six months from then take in
 * Europe's and America's clock changes in autumn (last Sunday in October, first in November),
 * the year-end freeze and both changes in spring, so every run meets the same calendar.
 */
export function scenarioStart(now: number): Date {
  const year = new Date(now).getUTCFullYear();
  const thisYear = Date.UTC(year, 9, 20, 9);
  return new Date(thisYear >= now ? thisYear : Date.UTC(year + 1, 9, 20, 9));
}
