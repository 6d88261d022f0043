/**
 * Package version comparison per ecosystem. The dpkg and rpm comparators run every vector of the
 * shared data (facts taken from the dpkg, apt, python-debian and rpm test suites); the others are
 * checked on upstream examples; every comparator is checked to be a total order that never throws.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareApk, isValidApkVersion } from '../../src/domain/versions/apk';
import { compareDpkg, isValidDpkgVersion } from '../../src/domain/versions/dpkg';
import { compareVersions, schemeForEcosystem, type VersionScheme } from '../../src/domain/versions/index';
import { compareMaven } from '../../src/domain/versions/maven';
import { compareRpm, compareRpmEvr } from '../../src/domain/versions/rpm';
import { compareSemver, isValidSemver } from '../../src/domain/versions/semver';

type Ordering = -1 | 0 | 1;
type Compare = (a: string, b: string) => Ordering;

interface Vector {
  a: string;
  b: string;
  cmp: Ordering;
  source: string;
}

/** The opposite ordering (`-0` would not equal `0` for `toBe`). */
function negate(order: Ordering): Ordering {
  return order === 0 ? 0 : order === 1 ? -1 : 1;
}

const VECTORS_DIR = path.resolve(__dirname, '../../fixtures/versions');

function readVectors(file: string): Vector[] {
  return JSON.parse(fs.readFileSync(path.join(VECTORS_DIR, file), 'utf8')) as Vector[];
}

const DEB_VECTORS = readVectors('deb-version-vectors.json');
const RPM_VECTORS = readVectors('rpm-version-vectors.json');

/** Each version is older than every one after it; the reverse comparisons agree. */
function expectAscending(compare: Compare, versions: string[]): void {
  for (let i = 0; i < versions.length; i++) {
    for (let j = i + 1; j < versions.length; j++) {
      const [older, newer] = [versions[i] ?? '', versions[j] ?? ''];
      expect(compare(older, newer), `${older} < ${newer}`).toBe(-1);
      expect(compare(newer, older), `${newer} > ${older}`).toBe(1);
    }
  }
}

function expectEqual(compare: Compare, a: string, b: string): void {
  expect(compare(a, b), `${a} == ${b}`).toBe(0);
  expect(compare(b, a), `${b} == ${a}`).toBe(0);
}

describe('dpkg: every vector of deb-version-vectors.json', () => {
  it('has all 122 vectors', () => {
    expect(DEB_VECTORS).toHaveLength(122);
  });

  it.each(DEB_VECTORS)('compareDpkg($a, $b) is $cmp ($source)', ({ a, b, cmp }) => {
    expect(compareDpkg(a, b)).toBe(cmp);
    expect(compareDpkg(b, a)).toBe(negate(cmp));
  });
});

describe('rpm: every vector of rpm-version-vectors.json (rpmvercmp)', () => {
  it('has all 91 vectors', () => {
    expect(RPM_VECTORS).toHaveLength(91);
  });

  it.each(RPM_VECTORS)('compareRpm($a, $b) is $cmp ($source)', ({ a, b, cmp }) => {
    expect(compareRpm(a, b)).toBe(cmp);
    expect(compareRpm(b, a)).toBe(negate(cmp));
  });
});

describe('dpkg', () => {
  it('orders tilde, end, letters and other characters as Debian policy says', () => {
    expectAscending(compareDpkg, ['1.0~~', '1.0~~a', '1.0~', '1.0~beta1', '1.0', '1.0a', '1.0+', '1.0+dfsg', '1.0.1', '1:0.1']);
  });

  it('splits the epoch at the first colon and the revision at the last hyphen', () => {
    expectEqual(compareDpkg, '1:2.0-1-2', '01:2.0-1-02');
    expectAscending(compareDpkg, ['2.0-1-1', '2.0-1-2', '2.0-2-1']);
    expect(compareDpkg('2:1.0', '1:9.0')).toBe(1);
  });

  it('trims surrounding blanks, as dpkg does (other whitespace is part of the version)', () => {
    expectEqual(compareDpkg, '  1.2-3\t', '1.2-3');
    expect(compareDpkg('1.0\n', '1.0')).toBe(1);
  });

  it('keeps the colon of an epoch dpkg refuses in the upstream version', () => {
    expect(compareDpkg('a:1', 'a:2')).toBe(-1);
    expect(compareDpkg('x:1.0', '0:1.0')).toBe(1);
    expect(compareDpkg('-1:5', '0:1')).toBe(-1); // a negative epoch is none: upstream "", revision "1:5"
  });

  it('tells the versions dpkg accepts from those it refuses or warns about', () => {
    for (const good of ['1.0', '0:1.0-1', '1:2.30+dfsg-1ubuntu0.1', '2.4.7-z', '1.0~rc1', '7:1-a:b-5', ' 1.0 ', '+1:1.0']) {
      expect(isValidDpkgVersion(good), good).toBe(true);
    }
    for (const bad of [
      '',
      ' ',
      'a1.0',
      '1.0-',
      ':1.0',
      '1:',
      'x:1.0',
      '-1:1.0',
      '2147483648:1',
      '1 0',
      '1.0_1',
      '1.0-1:2',
      '1.0-a_b',
      '1.0\n',
    ]) {
      expect(isValidDpkgVersion(bad), bad).toBe(false);
    }
  });
});

describe('rpm', () => {
  it('treats every non-alphanumeric character but ~ and ^ as a separator', () => {
    expectEqual(compareRpm, '1.0', '1_0');
    expectEqual(compareRpm, '1..0', '1+0');
    expectEqual(compareRpm, '1.0.', '1.0');
  });

  it('sorts ~ before the end and ^ after the end but before any further segment', () => {
    expectAscending(compareRpm, ['1.0~rc1', '1.0', '1.0^git1', '1.0.1']);
  });

  it('compares epoch, then version, then release', () => {
    expectAscending(compareRpmEvr, ['1.0-1.el8', '1.0-2.el8', '1.1-1.el8', '0:2.0-1', '1:0.1-1', '2:0.0.1-1']);
    expectEqual(compareRpmEvr, '0:1.2.3-4.el9', '1.2.3-4.el9');
    expectEqual(compareRpmEvr, ':1.0-1', '0:1.0-1');
    expect(compareRpmEvr('10:1.0-1', '9:2.0-1')).toBe(1);
  });

  it('splits the release at the last hyphen and puts a missing release first', () => {
    expect(compareRpmEvr('1.0-a-2', '1.0-a-10')).toBe(-1);
    expectAscending(compareRpmEvr, ['1.0', '1.0-', '1.0-0', '1.0-1']);
  });

  it('keeps a colon that follows anything but digits in the version', () => {
    expect(compareRpmEvr('a:1.0', 'a:2.0')).toBe(-1);
    expect(compareRpmEvr('1:1.0', 'a:9.0')).toBe(1);
  });
});

describe('apk', () => {
  it('orders the pre- and post-release suffixes around the release', () => {
    expectAscending(compareApk, ['1.0_alpha1', '1.0_beta', '1.0_pre1', '1.0_rc1', '1.0', '1.0_p1']);
    expectAscending(compareApk, ['1.0_rc1', '1.0', '1.0_cvs', '1.0_svn', '1.0_git', '1.0_hg', '1.0_p']);
    expectAscending(compareApk, ['1.0_alpha', '1.0_alpha1', '1.0_alpha2', '1.0_alpha10', '1.0_beta']);
  });

  it('compares revisions, letters and numbers', () => {
    expectAscending(compareApk, ['7.4_p1-r0', '7.4_p1-r1', '7.5_p1-r0']);
    expect(compareApk('1.2.3a', '1.2.3')).toBe(1);
    expect(compareApk('1.2.3a', '1.2.3b')).toBe(-1);
    expect(compareApk('1.10', '1.9')).toBe(1);
    expect(compareApk('2.0-r10', '2.0-r9')).toBe(1);
    expect(compareApk('1.0-r1', '1.0.1')).toBe(-1);
    expectEqual(compareApk, '1.0-r0', '1.0-r0');
  });

  it('agrees with cases of apk-tools test/unit/version.data', () => {
    expectAscending(compareApk, ['0.1.0_alpha', '0.1.0_alpha2', '0.1.3_alpha', '1.0.4-r3', '1.0.4-r4', '1.6']);
    expectAscending(compareApk, ['2.3.0b-r1', '2.3.0b-r2', '3.10.18-r1', '4.8-r1']);
    expect(compareApk('23_foo', '4_beta')).toBe(1);
    expect(compareApk('1.0', '1.0bc')).toBe(-1);
    expect(compareApk('1.0~1234', '1.0~abcd')).toBe(-1);
    expect(compareApk('1.0~abcd-r1', '1.0-r1')).toBe(1);
  });

  it('compares a number with a leading zero as text, after the first', () => {
    expect(compareApk('1.01', '1.1')).toBe(-1);
    expect(compareApk('1.01', '1.001')).toBe(1);
    expectEqual(compareApk, '01.1', '1.1');
  });

  it('stops at the first malformed part, which sorts below the end', () => {
    expectEqual(compareApk, '1.0bc', '1.0bd');
    expect(compareApk('1.0b', '1.0bc')).toBe(1);
    expect(compareApk('1.0_foo', '1.0')).toBe(-1);
    expect(compareApk('1.0_foo', '1.0_alpha')).toBe(1);
    expectEqual(compareApk, '', 'garbage');
  });

  it('tells valid versions from invalid ones', () => {
    for (const good of ['1', '1.2.3', '1.2.3a', '1.0_alpha1_p2', '7.4_p1-r0', '1.0~a1b2-r3', '2.34']) {
      expect(isValidApkVersion(good), good).toBe(true);
    }
    for (const bad of ['', 'a', '1.', '1.0-', '1.0-r', '1.0_', '1.0_foo', '1.0ab', '1.0-r1.2', 'v1.0', '1.0~', '1.0~XYZ']) {
      expect(isValidApkVersion(bad), bad).toBe(false);
    }
  });
});

describe('semver', () => {
  it('orders the precedence example of semver.org §11', () => {
    expectAscending(compareSemver, [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '2.0.0',
      '2.1.0',
      '2.1.1',
      '10.0.0',
    ]);
  });

  it('ignores build metadata and reads Go-style versions', () => {
    expectEqual(compareSemver, '1.0.0+build.1', '1.0.0+build.2');
    expectEqual(compareSemver, 'v1.2.3', '1.2.3');
    expectEqual(compareSemver, 'v1.2', '1.2.0');
    expectEqual(compareSemver, 'v2', '2.0.0');
    expectEqual(compareSemver, 'v2.0.0+incompatible', 'v2.0.0');
    expect(compareSemver('v0.0.0-20230101000000-abcdef123456', 'v0.0.1')).toBe(-1);
  });

  it('compares numbers by value, however long', () => {
    expect(compareSemver('1.2.10', '1.2.9')).toBe(1);
    expect(compareSemver('99999999999999999999.0.0', '99999999999999999998.9.9')).toBe(1);
    expect(compareSemver('1.0.0-alpha.10', '1.0.0-alpha.9')).toBe(1);
    expect(compareSemver('1.0.0-1', '1.0.0-a')).toBe(-1);
  });

  it('puts strings that are not versions below every version', () => {
    expect(isValidSemver('1.2.3-rc.1+build')).toBe(true);
    for (const bad of ['', 'latest', '1.2.3.4', '1.2.3-', '1.2.3-a..b', '1.2.3+']) {
      expect(isValidSemver(bad), bad).toBe(false);
      expect(compareSemver(bad, '0.0.0-0'), bad).toBe(-1);
    }
    expect(compareSemver('latest', 'beta')).toBe(1);
  });
});

describe('maven', () => {
  it('orders the examples of the task', () => {
    expectAscending(compareMaven, ['2.0-beta9', '2.0-rc1', '2.0', '2.0.1', '2.15.0', '2.16.0']);
    expectAscending(compareMaven, ['2.3.1', '2.12.2', '2.17.0']);
    expectAscending(compareMaven, ['1.0-alpha-1', '1.0-beta-1', '1.0-SNAPSHOT', '1.0']);
    expectEqual(compareMaven, '1.0', '1');
    expectEqual(compareMaven, '1.0.0', '1');
    expectEqual(compareMaven, '1-ga', '1');
  });

  it('orders qualifiers: alpha < beta < milestone < rc = cr < snapshot < release < sp < unknown', () => {
    expectAscending(compareMaven, ['1-alpha', '1-beta', '1-milestone', '1-rc', '1-snapshot', '1', '1-sp', '1-abc', '1-xyz']);
    expectEqual(compareMaven, '1-cr', '1-rc');
    expectEqual(compareMaven, '1.Final', '1');
    expectEqual(compareMaven, '1.RELEASE', '1.0');
    expectEqual(compareMaven, '1a1', '1-alpha-1');
    expect(compareMaven('1-a', '1-alpha')).toBe(1); // "a" is alpha only when a number follows
  });

  // The cases of maven-artifact's ComparableVersionTest (Maven 3.9).
  it('orders VERSIONS_QUALIFIER and VERSIONS_NUMBER of ComparableVersionTest', () => {
    expectAscending(compareMaven, [
      '1-alpha2snapshot',
      '1-alpha2',
      '1-alpha-123',
      '1-beta-2',
      '1-beta123',
      '1-m2',
      '1-m11',
      '1-rc',
      '1-cr2',
      '1-rc123',
      '1-SNAPSHOT',
      '1',
      '1-sp',
      '1-sp2',
      '1-sp123',
      '1-abc',
      '1-def',
      '1-pom-1',
      '1-1-snapshot',
      '1-1',
      '1-2',
      '1-123',
    ]);
    expectAscending(compareMaven, [
      '2.0',
      '2.0.a',
      '2-1',
      '2.0.2',
      '2.0.123',
      '2.1.0',
      '2.1-a',
      '2.1b',
      '2.1-c',
      '2.1-1',
      '2.1.0.1',
      '2.2',
      '2.123',
      '11.a2',
      '11.a11',
      '11.b2',
      '11.b11',
      '11.m2',
      '11.m11',
      '11',
      '11.a',
      '11b',
      '11c',
      '11m',
    ]);
  });

  it('has the equalities of ComparableVersionTest', () => {
    const pairs: [string, string][] = [
      ['1', '1.0'],
      ['1', '1.0.0'],
      ['1.0', '1.0.0'],
      ['1', '1-0'],
      ['1', '1.0-0'],
      ['1.0', '1.0-0'],
      ['1a', '1-a'],
      ['1a', '1.0-a'],
      ['1a', '1.0.0-a'],
      ['1.0a', '1-a'],
      ['1.0.0a', '1-a'],
      ['1x', '1-x'],
      ['1x', '1.0-x'],
      ['1x', '1.0.0-x'],
      ['1.0x', '1-x'],
      ['1.0.0x', '1-x'],
      ['1ga', '1'],
      ['1release', '1'],
      ['1final', '1'],
      ['1cr', '1rc'],
      ['1a1', '1-alpha-1'],
      ['1b2', '1-beta-2'],
      ['1m3', '1-milestone-3'],
      ['1X', '1x'],
      ['1A', '1a'],
      ['1B', '1b'],
      ['1M', '1m'],
      ['1Ga', '1'],
      ['1GA', '1'],
      ['1RELEASE', '1'],
      ['1RELeaSE', '1'],
      ['1Final', '1'],
      ['1FinaL', '1'],
      ['1FINAL', '1'],
      ['1Cr', '1Rc'],
      ['1cR', '1rC'],
      ['1m3', '1Milestone3'],
      ['1m3', '1MileStone3'],
      ['1m3', '1MILESTONE3'],
      ['1-abcdefghijklmnopqrstuvwxyz', '1-ABCDEFGHIJKLMNOPQRSTUVWXYZ'],
    ];
    for (const [a, b] of pairs) expectEqual(compareMaven, a, b);
    for (const width of [1, 5, 9, 10, 18, 19]) {
      expectEqual(compareMaven, '1'.padStart(width, '0'), '1');
      expectEqual(compareMaven, '0'.repeat(width), '0');
    }
  });

  it('has the orderings of ComparableVersionTest', () => {
    const pairs: [string, string][] = [
      ['1', '2'],
      ['1.5', '2'],
      ['1', '2.5'],
      ['1.0', '1.1'],
      ['1.1', '1.2'],
      ['1.0.0', '1.1'],
      ['1.0.1', '1.1'],
      ['1.1', '1.2.0'],
      ['1.0-alpha-1', '1.0'],
      ['1.0-alpha-1', '1.0-alpha-2'],
      ['1.0-alpha-1', '1.0-beta-1'],
      ['1.0-beta-1', '1.0-SNAPSHOT'],
      ['1.0-SNAPSHOT', '1.0'],
      ['1.0-alpha-1-SNAPSHOT', '1.0-alpha-1'],
      ['1.0', '1.0-1'],
      ['1.0-1', '1.0-2'],
      ['1.0.0', '1.0-1'],
      ['2.0-1', '2.0.1'],
      ['2.0.1-klm', '2.0.1-lmn'],
      ['2.0.1', '2.0.1-xyz'],
      ['2.0.1', '2.0.1-123'],
      ['2.0.1-xyz', '2.0.1-123'],
      // MNG-5568, MNG-6572, MNG-6964
      ['6.1.0rc3', '6.1.0'],
      ['6.1.0rc3', '6.1H.5-beta'],
      ['6.1.0', '6.1H.5-beta'],
      ['20190126.230843', '1234567890.12345'],
      ['1234567890.12345', '123456789012345.1H.5-beta'],
      ['123456789012345.1H.5-beta', '12345678901234567890.1H.5-beta'],
      ['1-0.alpha', '1'],
      ['1-0.beta', '1'],
      ['1-0.alpha', '1-0.beta'],
    ];
    for (const [older, newer] of pairs) expectAscending(compareMaven, [older, newer]);
  });

  it('treats .X as -X (MNG-7644)', () => {
    for (const x of ['abc', 'alpha', 'a', 'beta', 'b', 'def', 'milestone', 'm', 'RC']) {
      expectAscending(compareMaven, [`1.0.0.${x}1`, `1.0.0-${x}2`]);
      expectEqual(compareMaven, `2-${x}`, `2.0.${x}`);
      expectEqual(compareMaven, `2-${x}`, `2.0.0.${x}`);
      expectEqual(compareMaven, `2.0.${x}`, `2.0.0.${x}`);
    }
  });

  it('orders the usual real-world shapes', () => {
    expectAscending(compareMaven, ['4.1.85.Final', '4.1.86.Final', '4.1.100.Final']);
    expectAscending(compareMaven, ['5.3.0-M1', '5.3.0-RC1', '5.3.0.RELEASE', '5.3.1']);
    expectAscending(compareMaven, ['2.5.6', '2.5.6.SEC01', '2.5.6.SEC02', '2.5.7']);
    expectAscending(compareMaven, ['31.0-android', '31.0-jre', '31.1-android', '31.1-jre', '32.0.0-android']);
    expectAscending(compareMaven, ['9.4.50.v20221201', '9.4.51.v20230217']);
    expectAscending(compareMaven, ['2.0.0-rc.1', '2.0.0-rc.2', '2.0.0', '2.0.0-1']);
  });

  it('stays transitive where Maven 3.9 is not', () => {
    // Maven: 1.0.Beta-1 < 1 < 1-1 < 1.0.Beta-1; here 1.0.Beta-1 is 1-beta-1, a pre-release of 1
    expectEqual(compareMaven, '1.0.Beta-1', '1-beta-1');
    expectAscending(compareMaven, ['1.0.Beta-1', '1', '1-1']);
    // Maven: 1-0-SNAPSHOT < 1 < 1-incubating < 1-0-SNAPSHOT
    expectAscending(compareMaven, ['1-0-SNAPSHOT', '1', '1-incubating']);
  });

  it('walks deeply nested versions without recursion', () => {
    const deep = '1-'.repeat(50_000);
    expect(compareMaven(`${deep}1`, `${deep}2`)).toBe(-1);
    expect(compareMaven(`${deep}alpha`, `${deep}1`)).toBe(-1);
    expect(compareMaven(`${deep}alpha`, '1')).toBe(1);
  });
});

describe('compareVersions and schemeForEcosystem', () => {
  it('dispatches on the scheme, with epoch:version-release for rpm', () => {
    expect(compareVersions('dpkg', '1.0~rc1', '1.0')).toBe(-1);
    expect(compareVersions('rpm', '1:1.0-1.el9', '2.0-1.el9')).toBe(1);
    expect(compareVersions('rpm', '0:1.0-1.el9', '1.0-1.el9')).toBe(0);
    expect(compareVersions('apk', '7.4_p1-r0', '7.4_p1-r1')).toBe(-1);
    expect(compareVersions('semver', 'v1.2', '1.2.1')).toBe(-1);
    expect(compareVersions('maven', '2.0-rc1', '2.0')).toBe(-1);
  });

  it('maps OSV ecosystem names to schemes', () => {
    const expected: Record<string, VersionScheme | undefined> = {
      Debian: 'dpkg',
      'Debian:7': 'dpkg',
      'Debian:12': 'dpkg',
      Ubuntu: 'dpkg',
      'Ubuntu:22.04:LTS': 'dpkg',
      'Ubuntu:Pro:18.04:LTS': 'dpkg',
      'Red Hat': 'rpm',
      'Red Hat:enterprise_linux:9::appstream': 'rpm',
      'Rocky Linux': 'rpm',
      'Rocky Linux:9': 'rpm',
      'AlmaLinux:8': 'rpm',
      'openSUSE:Leap 15.5': 'rpm',
      'SUSE:Linux Enterprise Server 15 SP5': 'rpm',
      'Mageia:9': 'rpm',
      Alpine: 'apk',
      'Alpine:v3.18': 'apk',
      npm: 'semver',
      Go: 'semver',
      'crates.io': 'semver',
      Maven: 'maven',
      NuGet: undefined,
      Packagist: undefined,
      PyPI: undefined,
      RubyGems: undefined,
      Hex: undefined,
      '': undefined,
      debian: undefined,
      GIT: undefined,
      toString: undefined,
      constructor: undefined,
    };
    for (const [ecosystem, scheme] of Object.entries(expected)) {
      expect(schemeForEcosystem(ecosystem), ecosystem).toBe(scheme);
    }
  });
});

// ---- properties: every comparator is a total order on any string and never throws ----

/** Strings built from the pieces a scheme's versions are made of, so that relations are frequent. */
function soup(pieces: string[], maxLength = 10): fc.Arbitrary<string> {
  return fc.array(fc.constantFrom(...pieces), { maxLength }).map((parts) => parts.join(''));
}

const SCHEMES: { name: string; compare: Compare; versions: fc.Arbitrary<string> }[] = [
  {
    name: 'dpkg',
    compare: compareDpkg,
    versions: soup(['0', '1', '2', '9', '10', '00', 'a', 'b', 'Z', '.', '+', '~', '-', ':', '1:', ' ']),
  },
  { name: 'rpm', compare: compareRpm, versions: soup(['0', '1', '2', '10', '00', 'a', 'b', 'Z', '.', '_', '+', '~', '^', '-']) },
  {
    name: 'rpm EVR',
    compare: compareRpmEvr,
    versions: soup(['0', '1', '2', '10', '00', 'a', 'b', '.', '~', '^', '-', ':', '1:', '0:', '-1']),
  },
  {
    name: 'apk',
    compare: compareApk,
    versions: soup([
      '0',
      '1',
      '2',
      '10',
      '01',
      '.',
      'a',
      'z',
      '_alpha',
      '_beta',
      '_rc',
      '_p',
      '_git',
      '_',
      '-r',
      '-r1',
      '~ab',
      '~',
      '-',
      'X',
    ]),
  },
  {
    name: 'semver',
    compare: compareSemver,
    versions: fc.oneof(
      fc
        .tuple(
          fc.constantFrom('', 'v'),
          fc.array(fc.constantFrom('0', '1', '2', '10', '01'), { minLength: 1, maxLength: 3 }),
          fc.array(fc.constantFrom('alpha', 'beta', 'rc', '0', '1', '2', '10', 'a-1', '-', 'A'), { maxLength: 3 }),
          fc.constantFrom('', '+build', '+1.2'),
        )
        .map(([v, core, pre, build]) => `${v}${core.join('.')}${pre.length > 0 ? `-${pre.join('.')}` : ''}${build}`),
      soup(['0', '1', '.', '-', '+', 'v', 'a', 'x']),
    ),
  },
  {
    name: 'maven',
    compare: compareMaven,
    versions: soup([
      '0',
      '1',
      '2',
      '10',
      '00',
      '.',
      '-',
      '.',
      '-',
      'alpha',
      'a',
      'b',
      'm',
      'beta',
      'milestone',
      'rc',
      'cr',
      'SNAPSHOT',
      'ga',
      'final',
      'release',
      'sp',
      'xyz',
      'jre',
    ]),
  },
];

const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme-ascii', maxLength: 40 }));

/** For every order of the three, a ≤ b ≤ c implies a ≤ c, strictly if either step is strict. */
function expectTransitive(compare: Compare, triple: [string, string, string]): void {
  const [a, b, c] = triple;
  for (const [x, y, z] of [
    [a, b, c],
    [a, c, b],
    [b, a, c],
    [b, c, a],
    [c, a, b],
    [c, b, a],
  ] as const) {
    const xy = compare(x, y);
    const yz = compare(y, z);
    if (xy <= 0 && yz <= 0) {
      expect(compare(x, z), `${x} ≤ ${y} ≤ ${z}`).toBe(xy < 0 || yz < 0 ? -1 : 0);
    }
  }
}

describe.each(SCHEMES)('$name is a total order', ({ compare, versions }) => {
  const values = fc.oneof({ weight: 4, arbitrary: versions }, { weight: 1, arbitrary: anyString });

  it('is reflexive', () => {
    fc.assert(
      fc.property(values, (a) => {
        expect(compare(a, a)).toBe(0);
      }),
    );
  });

  it('is antisymmetric', () => {
    fc.assert(
      fc.property(values, values, (a, b) => {
        const result = compare(a, b);
        expect([-1, 0, 1]).toContain(result);
        expect(compare(b, a)).toBe(negate(result));
      }),
      { numRuns: 1000 },
    );
  });

  it('is transitive', () => {
    fc.assert(
      fc.property(fc.tuple(versions, versions, versions), (triple) => {
        expectTransitive(compare, triple);
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts any list consistently', () => {
    fc.assert(
      fc.property(fc.array(versions, { maxLength: 30 }), (list) => {
        const sorted = [...list].sort(compare);
        for (let i = 0; i < sorted.length; i++) {
          for (let j = i + 1; j < sorted.length; j++) expect(compare(sorted[i] ?? '', sorted[j] ?? '')).toBeLessThanOrEqual(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        expect([-1, 0, 1]).toContain(compare(a, b));
      }),
      { numRuns: 1000 },
    );
    const long = '1.a-~^_:+'.repeat(20_000);
    expect([-1, 0, 1]).toContain(compare(long, `${long}1`));
  });
});
