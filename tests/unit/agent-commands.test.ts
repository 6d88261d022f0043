import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  diskFreeCommand,
  formatCommand,
  installCommand,
  inventoryCommand,
  invalidPin,
  packageManagerFor,
  rebootCommand,
  rollbackCommand,
  simulateInstallCommand,
} from '../../src/connectors/agent/commands';
import { parseOsRelease } from '../../src/connectors/agent/parse';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'agent', name), 'utf8');

describe('package manager from /etc/os-release', () => {
  it.each([
    ['os-release.debian-12', 'apt'],
    ['os-release.ubuntu-24.04', 'apt'],
    ['os-release.rhel-9.6', 'dnf'],
    ['os-release.rocky-9.3', 'dnf'],
  ])('%s → %s', (file, pm) => {
    expect(packageManagerFor(parseOsRelease(fixture(file)))).toBe(pm);
  });

  it('falls back to ID_LIKE and refuses what it cannot drive', () => {
    expect(packageManagerFor({ ID: 'linuxmint', ID_LIKE: 'ubuntu debian' })).toBe('apt');
    expect(packageManagerFor({ ID: 'almalinux', ID_LIKE: 'rhel centos fedora' })).toBe('dnf');
    expect(() => packageManagerFor({ ID: 'opensuse-leap', ID_LIKE: 'suse opensuse', PRETTY_NAME: 'openSUSE Leap 15.5' })).toThrow(
      /unsupported OS "openSUSE Leap 15.5"/,
    );
  });
});

describe('commands are argv arrays', () => {
  it('inventory: dpkg-query and rpm with the agent formats', () => {
    expect(inventoryCommand('apt').argv).toEqual([
      'dpkg-query',
      '-W',
      '--showformat=${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\n',
    ]);
    expect(inventoryCommand('dnf').argv).toEqual([
      'rpm',
      '-qa',
      '--queryformat',
      '%{NAME}\\t%{EPOCH}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n',
    ]);
  });

  it('apt install pins exact versions, upgrades only, never removes, never prompts', () => {
    const command = installCommand('apt', [
      { name: 'openssh-server', version: '1:8.9p1-3ubuntu0.10' },
      { name: 'libc6', version: '2.35-0ubuntu3.8', arch: 'i386' },
    ]);
    expect(command.argv).toEqual([
      'apt-get',
      'install',
      '-q',
      '-y',
      '-o',
      'DPkg::Lock::Timeout=300',
      '-o',
      'Dpkg::Options::=--force-confdef',
      '-o',
      'Dpkg::Options::=--force-confold',
      '--no-install-recommends',
      '--no-remove',
      '--only-upgrade',
      'openssh-server=1:8.9p1-3ubuntu0.10',
      'libc6:i386=2.35-0ubuntu3.8',
    ]);
    expect(command.env).toMatchObject({ DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' });
  });

  it('dnf install pins name-[epoch:]version-release[.arch]', () => {
    expect(
      installCommand('dnf', [
        { name: 'openssl', version: '1:3.0.7-25.el9_3' },
        { name: 'glibc', version: '2.34-83.el9.12', arch: 'i686' },
      ]).argv,
    ).toEqual(['dnf', 'install', '-y', '--setopt=install_weak_deps=False', 'openssl-1:3.0.7-25.el9_3', 'glibc-2.34-83.el9.12.i686']);
  });

  it('simulation: apt-get -s and dnf --assumeno', () => {
    const pins = [{ name: 'curl', version: '7.88.1-10+deb12u15' }];
    expect(simulateInstallCommand('apt', pins).argv).toEqual([
      'apt-get',
      'install',
      '-s',
      '-q',
      '--only-upgrade',
      '--no-install-recommends',
      '--no-remove',
      'curl=7.88.1-10+deb12u15',
    ]);
    expect(simulateInstallCommand('dnf', [{ name: 'sudo', version: '1.9.5p2-10.el9_3' }]).argv).toEqual([
      'dnf',
      'install',
      '--assumeno',
      '--setopt=install_weak_deps=False',
      'sudo-1.9.5p2-10.el9_3',
    ]);
  });

  it('rollback: apt allows downgrades; dnf install goes to exactly the named version', () => {
    expect(rollbackCommand('apt', [{ name: 'curl', version: '7.88.1-10+deb12u14' }]).argv).toEqual(
      expect.arrayContaining(['--allow-downgrades', 'curl=7.88.1-10+deb12u14']),
    );
    expect(rollbackCommand('apt', [{ name: 'curl', version: '7.88.1-10+deb12u14' }]).argv).not.toContain('--only-upgrade');
    expect(rollbackCommand('dnf', [{ name: 'openssl', version: '1:3.0.7-24.el9' }]).argv).toEqual([
      'dnf',
      'install',
      '-y',
      '--setopt=install_weak_deps=False',
      'openssl-1:3.0.7-24.el9',
    ]);
  });

  it('reboot in one minute, df in POSIX KiB', () => {
    expect(rebootCommand('patchflow: reboot for patch p1').argv).toEqual(['shutdown', '-r', '+1', 'patchflow: reboot for patch p1']);
    expect(diskFreeCommand(['/var', '/usr']).argv).toEqual(['df', '-Pk', '/var', '/usr']);
  });

  it('refuses names and versions that could read as options or carry other syntax', () => {
    expect(invalidPin({ name: '-o', version: '1' })).toMatch(/invalid package name/);
    expect(invalidPin({ name: 'bash', version: '--allow-unauthenticated' })).toMatch(/invalid version/);
    expect(invalidPin({ name: 'bash', version: '5.2; rm -rf /' })).toMatch(/invalid version/);
    expect(invalidPin({ name: 'bash', version: '5.2', arch: 'amd64 x' })).toMatch(/invalid architecture/);
    expect(invalidPin({ name: 'libstdc++6', version: '1:12.2.0-14+deb12u1~bpo' })).toBeUndefined();
    expect(() => installCommand('apt', [{ name: '--purge', version: '1' }])).toThrow(/invalid package name/);
    expect(() => installCommand('apt', [])).toThrow(/no packages/);
  });

  it('formats a command as it would be typed', () => {
    expect(formatCommand(rebootCommand("patch 'p1'"))).toBe(`shutdown -r +1 'patch '\\''p1'\\'''`);
    expect(formatCommand(inventoryCommand('apt'))).toMatch(/^dpkg-query -W '--showformat=\$\{db:Status-Abbrev\}/);
  });
});
