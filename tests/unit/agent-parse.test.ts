import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  aptErrors,
  parseAptSimulation,
  parseDf,
  parseDnfSimulation,
  parseDpkgInventory,
  parseFailedUnits,
  parseOsRelease,
  parseRpmInventory,
} from '../../src/connectors/agent/parse';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'agent', name), 'utf8');

describe('os-release', () => {
  it('reads quoted and unquoted values', () => {
    expect(parseOsRelease(fixture('os-release.ubuntu-24.04'))).toMatchObject({
      ID: 'ubuntu',
      ID_LIKE: 'debian',
      VERSION_ID: '24.04',
      PRETTY_NAME: 'Ubuntu 24.04.3 LTS',
    });
    expect(parseOsRelease(fixture('os-release.rocky-9.3'))).toMatchObject({
      ID: 'rocky',
      ID_LIKE: 'rhel centos fedora',
      VERSION_ID: '9.3',
    });
    expect(parseOsRelease(fixture('os-release.rhel-9.6'))).toMatchObject({ ID: 'rhel', REDHAT_BUGZILLA_PRODUCT_VERSION: '9.6' });
    expect(parseOsRelease(fixture('os-release.debian-12'))).toMatchObject({ ID: 'debian', VERSION_ID: '12' });
  });

  it('undoes shell escapes, ignores comments and single quotes', () => {
    expect(parseOsRelease('# comment\nNAME="A \\"quoted\\" \\$name"\nX=\'single\'\n')).toEqual({ NAME: 'A "quoted" $name', X: 'single' });
  });
});

describe('dpkg-query inventory', () => {
  const packages = parseDpkgInventory(fixture('dpkg-query.debian-12.txt'));

  it('reads every installed package of the recorded Debian 12 host', () => {
    expect(packages).toHaveLength(758);
    expect(packages.find((p) => p.name === 'bash')).toEqual({ name: 'bash', version: '5.2.15-2+b8', arch: 'amd64' });
    // the source only when it differs from the binary package; epochs stay in the version
    expect(packages.find((p) => p.name === 'bsdutils')).toEqual({
      name: 'bsdutils',
      version: '1:2.38.1-5+deb12u3',
      source: 'util-linux',
      arch: 'amd64',
    });
    expect(packages.find((p) => p.name === 'adduser')).toEqual({ name: 'adduser', version: '3.134', arch: 'all' });
  });

  it('leaves out packages removed with only their configuration left, or not installed', () => {
    const text = 'ii \tcurl\t7.88.1-10+deb12u14\tamd64\tcurl\nrc \told-kernel\t6.1.0-9\tamd64\tlinux-signed-amd64\nun \tghost\t\t\tghost\n';
    expect(parseDpkgInventory(text).map((p) => p.name)).toEqual(['curl']);
  });
});

describe('rpm inventory', () => {
  const packages = parseRpmInventory(fixture('rpm-qa.rocky-9.txt'));

  it('puts the epoch in the version only when there is one and skips gpg-pubkey', () => {
    expect(packages.find((p) => p.name === 'openssl')).toEqual({ name: 'openssl', version: '1:3.0.7-24.el9', arch: 'x86_64' });
    expect(packages.find((p) => p.name === 'openssl-libs')).toEqual({
      name: 'openssl-libs',
      version: '1:3.0.7-24.el9',
      source: 'openssl',
      arch: 'x86_64',
    });
    expect(packages.find((p) => p.name === 'bash')).toEqual({ name: 'bash', version: '5.1.8-6.el9_1', arch: 'x86_64' });
    expect(packages.some((p) => p.name === 'gpg-pubkey')).toBe(false);
    expect(packages).toHaveLength(14);
  });

  it('takes the source name from the source RPM, keeping dashes in names', () => {
    expect(packages.find((p) => p.name === 'python3-libdnf')?.source).toBe('libdnf');
    expect(packages.find((p) => p.name === 'kernel-core')?.source).toBe('kernel');
    expect(packages.find((p) => p.name === 'rocky-release')).toEqual({ name: 'rocky-release', version: '9.3-1.2.el9', arch: 'noarch' });
  });

  it('keeps every installed kernel and both multilib architectures', () => {
    expect(packages.filter((p) => p.name === 'kernel-core').map((p) => p.version)).toEqual([
      '5.14.0-362.8.1.el9_3',
      '5.14.0-362.13.1.el9_3',
    ]);
    expect(packages.filter((p) => p.name === 'glibc').map((p) => p.arch)).toEqual(['x86_64', 'i686']);
  });
});

describe('apt-get -s', () => {
  it('lists what an upgrade would change, dependencies included', () => {
    expect(parseAptSimulation(fixture('apt-get-s.upgrade.stdout'))).toEqual([
      { action: 'change', name: 'curl', from: '7.88.1-10+deb12u14', to: '7.88.1-10+deb12u15' },
      { action: 'change', name: 'libcurl4', from: '7.88.1-10+deb12u14', to: '7.88.1-10+deb12u15' },
      { action: 'change', name: 'libcurl3-gnutls', from: '7.88.1-10+deb12u14', to: '7.88.1-10+deb12u15' },
      { action: 'change', name: 'libcurl3-nss', from: '7.88.1-10+deb12u14', to: '7.88.1-10+deb12u15' },
    ]);
    expect(aptErrors(fixture('apt-get-s.upgrade.stderr'))).toBeUndefined();
  });

  it('reads removals and new packages', () => {
    const text = 'Remv systemd-timesyncd [252.38-1~deb12u1]\nInst chrony (4.3-2+deb12u3 Debian:12.15/oldstable [amd64])\n';
    expect(parseAptSimulation(text)).toEqual([
      { action: 'remove', name: 'systemd-timesyncd', from: '252.38-1~deb12u1' },
      { action: 'install', name: 'chrony', to: '4.3-2+deb12u3' },
    ]);
  });

  it('reports apt errors: a missing version, a removal refused, a broken downgrade', () => {
    expect(aptErrors(fixture('apt-get-s.not-found.stderr'))).toBe("Version '9.9' for 'bash' was not found");
    expect(aptErrors(fixture('apt-get-s.remove.stderr'))).toBe('Packages need to be removed but remove is disabled.');
    expect(parseAptSimulation(fixture('apt-get-s.remove.stdout'))).toEqual([]);
    expect(aptErrors(fixture('apt-get-s.downgrade-broken.stderr'))).toBe('Unable to correct problems, you have held broken packages.');
  });
});

describe('dnf --assumeno', () => {
  it('a resolved transaction: ok, with its packages (a wrapped long name too)', () => {
    const out = `${fixture('dnf-assumeno.upgrade.stdout')}\n${fixture('dnf-assumeno.upgrade.stderr')}`;
    expect(parseDnfSimulation(out, 1)).toEqual({
      ok: true,
      changes: [
        { action: 'change', name: 'openssl', to: '1:3.0.7-25.el9_3' },
        { action: 'change', name: 'openssl-libs', to: '1:3.0.7-25.el9_3' },
        { action: 'install', name: 'python3-some-very-long-package-name-for-wrapping', to: '1.2-3.el9' },
      ],
    });
  });

  it('a version that is not available: not ok, with dnf error lines', () => {
    const out = `${fixture('dnf-assumeno.no-match.stdout')}\n${fixture('dnf-assumeno.no-match.stderr')}`;
    expect(parseDnfSimulation(out, 1)).toEqual({
      ok: false,
      error: 'No match for argument: openssl-1:9.9-1.el9; Error: Unable to find a match: openssl-1:9.9-1.el9',
      changes: [],
    });
  });

  it('nothing to do: ok; an unexplained failure: not ok', () => {
    expect(parseDnfSimulation('Dependencies resolved.\nNothing to do.\nComplete!\n', 0)).toEqual({ ok: true, changes: [] });
    expect(parseDnfSimulation('', 3)).toEqual({ ok: false, error: 'dnf exited with 3', changes: [] });
  });
});

describe('df and systemctl', () => {
  it('df -Pk: available KiB per mount', () => {
    expect(parseDf(fixture('df.debian-12.txt'))).toEqual([
      { filesystem: '/dev/vda', availableKb: 79154640, mount: '/' },
      { filesystem: '/dev/vda', availableKb: 79154640, mount: '/' },
    ]);
    expect(parseDf('Filesystem 1024-blocks Used Available Capacity Mounted on\ntmpfs 1000 10 990 1% /run/user 1000\n')).toEqual([
      { filesystem: 'tmpfs', availableKb: 990, mount: '/run/user 1000' },
    ]);
  });

  it('failed units', () => {
    expect(
      parseFailedUnits(
        'nginx.service loaded failed failed A high performance web server\nlogrotate.timer loaded failed failed Daily rotation\n',
      ),
    ).toEqual(['nginx.service', 'logrotate.timer']);
    expect(parseFailedUnits('')).toEqual([]);
  });
});
