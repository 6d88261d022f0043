import { describe, expect, it } from 'vitest';
import { affectedPackages, type CandidateAsset, type CandidateGroup } from '../../src/domain/applicability';
import { osEcosystems } from '../../src/domain/asset';
import { assetsFromCsv, CsvError } from '../../src/domain/asset-csv';
import { advisoryCves, evaluateAffected, OsvRecord } from '../../src/domain/osv';
import { readJson } from '../helpers/fixtures';

const record = (...parts: string[]) => OsvRecord.parse(readJson(...parts));

describe('OS release to OSV ecosystem', () => {
  it('maps the releases we document', () => {
    expect(osEcosystems({ name: 'ubuntu', version: '22.04' })).toEqual(['Ubuntu:22.04:LTS', 'Ubuntu:Pro:22.04:LTS']);
    expect(osEcosystems({ name: 'ubuntu', version: '25.04' })).toEqual(['Ubuntu:25.04']);
    expect(osEcosystems({ name: 'Debian', version: '12' })).toEqual(['Debian:12']);
    expect(osEcosystems({ name: 'debian', version: '7.11' })).toEqual(['Debian:7']);
    expect(osEcosystems({ name: 'alpine', version: '3.18.4' })).toEqual(['Alpine:v3.18']);
    expect(osEcosystems({ name: 'rocky', version: '9.3' })).toEqual(['Rocky Linux:9']);
    expect(osEcosystems({ name: 'windows', version: '11' })).toEqual([]);
  });
});

describe('OSV affected-version rules', () => {
  const log4shell = record('osv', 'maven', 'GHSA-jfh8-c2jp-5v3q.json');
  const openssh = record('osv', 'alpine', 'CVE-2016-10012.json');

  it('Log4Shell: each Maven range, with the fix of the range the version sits in', () => {
    const verdict = (v: string) =>
      log4shell.affected.map((a) => evaluateAffected(a, v, 'maven')).find((x) => x.affected) ?? { affected: false };
    expect(verdict('2.14.1')).toEqual({ affected: true, fixedVersion: '2.15.0' });
    expect(verdict('2.10.0')).toEqual({ affected: true, fixedVersion: '2.12.2' });
    expect(verdict('2.0-beta9')).toEqual({ affected: true, fixedVersion: '2.3.1' });
    expect(verdict('2.12.2')).toEqual({ affected: false });
    expect(verdict('2.15.0')).toEqual({ affected: false });
    expect(verdict('2.17.1')).toEqual({ affected: false });
  });

  it('Alpine apk versions', () => {
    const v318 = openssh.affected.find((a) => a.package?.ecosystem === 'Alpine:v3.18')!;
    const fixed = (v318.ranges![0]!.events.find((e) => 'fixed' in e) as { fixed: string }).fixed;
    expect(evaluateAffected(v318, '7.3_p1-r0', 'apk').affected).toBe(true);
    expect(evaluateAffected(v318, fixed, 'apk').affected).toBe(false);
  });

  it('last_affected is inclusive, limit caps, explicit versions count', () => {
    const entry = {
      package: { ecosystem: 'npm', name: 'x' },
      ranges: [
        {
          type: 'SEMVER' as const,
          events: [{ introduced: '1.0.0' }, { last_affected: '1.4.0' }, { introduced: '3.0.0' }, { limit: '3.5.0' }],
        },
      ],
      versions: ['0.9.0'],
    };
    expect(evaluateAffected(entry, '1.4.0', 'semver')).toEqual({ affected: true });
    expect(evaluateAffected(entry, '1.4.1', 'semver').affected).toBe(false);
    expect(evaluateAffected(entry, '3.2.0', 'semver').affected).toBe(true);
    expect(evaluateAffected(entry, '3.5.0', 'semver').affected).toBe(false);
    expect(evaluateAffected(entry, '0.9.0', 'semver').affected).toBe(true);
    expect(evaluateAffected(entry, '0.8.0', 'semver').affected).toBe(false);
  });

  it('finds the CVEs of Ubuntu notices in `upstream`, and of GHSA records in aliases', () => {
    expect(advisoryCves(record('osv', 'ubuntu', 'USN-4705-1.json'))).toEqual(['CVE-2021-23239', 'CVE-2021-3156']);
    expect(advisoryCves(log4shell)).toEqual(['CVE-2021-44228']);
  });
});

describe('matching hosts', () => {
  const notice = record('osv', 'ubuntu', 'USN-6859-1.json');
  const host = (id: string): CandidateAsset => ({
    id,
    environment: 'production',
    criticality: 'high',
    exposure: 'internet',
    compensatingControls: [],
  });
  const group = (version: string, pkg: { name: string; source: string }, os = '22.04'): CandidateGroup => ({
    osName: 'ubuntu',
    osVersion: os,
    assets: [host(`h-${version}-${os}`)],
    packages: [{ ...pkg, version, ecosystem: '' }],
  });

  it('matches by source package or by binary name, on the right release only', () => {
    const bySource = group('1:8.9p1-3ubuntu0.7', { name: 'openssh-server', source: 'openssh' });
    const byBinary = group('1:8.9p1-3ubuntu0.6', { name: 'openssh-client', source: '' });
    const fixed = group('1:8.9p1-3ubuntu0.10', { name: 'openssh-server', source: 'openssh' });
    const otherRelease = group('1:8.9p1-3ubuntu0.6', { name: 'openssh-server', source: 'openssh' }, '20.04');
    const result = affectedPackages(notice, [bySource, byBinary, fixed, otherRelease]);
    expect(result.map((r) => [r.asset.id, r.package, r.fixedVersion])).toEqual([
      ['h-1:8.9p1-3ubuntu0.7-22.04', 'openssh-server', '1:8.9p1-3ubuntu0.10'],
      ['h-1:8.9p1-3ubuntu0.6-22.04', 'openssh-client', '1:8.9p1-3ubuntu0.10'],
    ]);
  });

  it('a withdrawn advisory applies to nothing', () => {
    const withdrawn = { ...notice, withdrawn: '2025-01-01T00:00:00Z' };
    expect(affectedPackages(withdrawn, [group('1:8.9p1-3ubuntu0.6', { name: 'openssh-server', source: 'openssh' })])).toEqual([]);
  });
});

describe('assets from CSV', () => {
  it('reads packages with arch and source, windows and controls', () => {
    const { assets } = assetsFromCsv(
      'id,hostname,environment,os_name,os_version,criticality,exposure,maintenance_windows,compensating_controls,packages\n' +
        'a1,a1.x,lab,ubuntu,24.04,low,internal,"sat,sun 01:00-05:00; wed 22:00-02:00",WAF; VPN only,"libc6:amd64=2.39-0ubuntu8@glibc sudo=1.9.15p5-3ubuntu5"\n',
    );
    expect(assets[0]).toEqual({
      id: 'a1',
      hostname: 'a1.x',
      environment: 'lab',
      os: { name: 'ubuntu', version: '24.04' },
      criticality: 'low',
      exposure: 'internal',
      compensatingControls: ['WAF', 'VPN only'],
      maintenanceWindows: [
        { days: ['sat', 'sun'], start: '01:00', end: '05:00' },
        { days: ['wed'], start: '22:00', end: '02:00' },
      ],
      packages: [
        { name: 'libc6', arch: 'amd64', version: '2.39-0ubuntu8', source: 'glibc' },
        { name: 'sudo', version: '1.9.15p5-3ubuntu5' },
      ],
    });
  });

  it('names the line and the column of what it cannot read', () => {
    expect(() => assetsFromCsv('id,maintenance_windows\nz9,someday')).toThrow(
      new CsvError('line 2 (z9): maintenance_windows: "someday" is not like "sat,sun 01:00-05:00"'),
    );
  });
});
