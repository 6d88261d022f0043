/**
 * The classification of webhook hosts (src/domain/internal-address.ts), checked against Node's
 * own `net.BlockList` as an independent oracle, over every notation the URL parser normalizes.
 */
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { internalHostReason, internalRange, internalWebhooks, isLocalhostName, normalizeHost } from '../../src/domain/internal-address';

/** The ranges issue 14 names, in Node's BlockList: the oracle. */
const oracle = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  oracle.addSubnet(prefix, bits, 'ipv4');
}
for (const [prefix, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fe80::', 10],
  ['fc00::', 7],
] as const) {
  oracle.addSubnet(prefix, bits, 'ipv6');
}

const dotted = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
const hostOf = (url: string) => new URL(url).hostname;

/** Every way to write one IPv4 address in a URL that the WHATWG parser turns into it. */
const notations = (n: number) => {
  const [a, b, c, d] = [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const hex = (x: number) => `0x${x.toString(16)}`;
  const oct = (x: number) => `0${x.toString(8)}`;
  return [
    `http://${dotted(n)}/`,
    `http://${n}/`,
    `http://${hex(n)}/`,
    `http://${oct(n)}/`,
    `http://${hex(a)}.${hex(b)}.${hex(c)}.${hex(d)}/`,
    `http://${oct(a)}.${oct(b)}.${oct(c)}.${oct(d)}/`,
    `http://${a}.${(b << 16) | (c << 8) | d}/`,
    `http://[::ffff:${dotted(n)}]/`,
  ];
};

const internalV4 = fc.oneof(
  ...(
    [
      [0x7f000000, 8],
      [0x0a000000, 8],
      [0xac100000, 12],
      [0xc0a80000, 16],
      [0xa9fe0000, 16],
      [0x64400000, 10],
      [0x00000000, 8],
    ] as const
  ).map(([base, bits]) => fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((offset) => (base + offset) >>> 0)),
);

describe('internal addresses', () => {
  it('refuses the addresses of the penetration test in every notation', () => {
    for (const url of [
      'http://127.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://2130706433/',
      'http://0x7f000001/',
      'http://017700000001/',
      'http://127.1/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::1]/',
      'http://0.0.0.0/',
      'http://[::]/',
      'http://10.1.2.3/',
      'http://172.16.0.1/',
      'http://192.168.1.1/',
      'http://100.64.0.1/',
      'http://[fe80::1]/',
      'http://[fd00:ec2::254]/',
      'http://[fc00::1]/',
      'http://localhost:8080/',
      'http://LOCALHOST./',
      'http://admin.localhost/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://[::7f00:1]/',
    ]) {
      expect(internalHostReason(hostOf(url)), url).toBeDefined();
    }
  });

  it('lets public addresses and names through (names are resolved at delivery)', () => {
    for (const url of [
      'https://hooks.slack.com/services/T/B/x',
      'http://8.8.8.8/',
      'http://[2606:4700:4700::1111]/',
      'http://[::ffff:8.8.8.8]/',
      'http://[64:ff9b::808:808]/',
      'http://localhost.example.com/',
    ]) {
      expect(internalHostReason(hostOf(url)), url).toBeUndefined();
    }
  });

  it('names the range', () => {
    expect(internalRange('169.254.169.254')).toBe('linkLocal');
    expect(internalRange('127.0.0.1')).toBe('loopback');
    expect(internalRange('::ffff:10.0.0.1')).toBe('private');
    expect(internalRange('100.64.0.1')).toBe('carrierGradeNat');
    expect(internalRange('fe80::1%eth0')).toBe('linkLocal');
    expect(internalRange('[::1]')).toBe('loopback');
    expect(internalRange('example.com')).toBeUndefined();
  });

  it('property: every address in the issue’s ranges is internal in every URL notation', () => {
    fc.assert(
      fc.property(internalV4, (n) => {
        for (const url of notations(n)) expect(internalHostReason(hostOf(url)), url).toBeDefined();
      }),
    );
  });

  it('property: whatever the notation, the verdict is that of the address (and BlockList agrees)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const verdict = internalHostReason(dotted(n));
        if (oracle.check(dotted(n), 'ipv4')) expect(verdict).toBeDefined();
        for (const url of notations(n)) expect(internalHostReason(hostOf(url)), url).toBe(verdict);
      }),
    );
  });

  it('property: IPv6 in loopback, link-local, unique-local is internal; BlockList’s verdict is never missed', () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    const v6 = fc.tuple(
      fc.oneof(fc.constant(0xfe80), fc.integer({ min: 0xfc00, max: 0xfdff }), group),
      fc.array(group, { minLength: 7, maxLength: 7 }),
    );
    fc.assert(
      fc.property(v6, ([first, rest]) => {
        const address = [first, ...rest].map((g) => g.toString(16)).join(':');
        const host = hostOf(`http://[${address}]/`);
        if (oracle.check(address, 'ipv6') || first === 0xfe80 || (first & 0xfe00) === 0xfc00) {
          expect(internalHostReason(host), address).toBeDefined();
        }
      }),
    );
  });

  it('localhost names', () => {
    expect(isLocalhostName('localhost')).toBe(true);
    expect(isLocalhostName('a.b.localhost.')).toBe(true);
    expect(isLocalhostName('localhost.example')).toBe(false);
    expect(isLocalhostName('notlocalhost')).toBe(false);
  });
});

describe('the policy’s webhooks', () => {
  const check = (urls: string[], allowedInternalHosts: string[] = []) =>
    internalWebhooks({ webhooks: urls.map((url) => ({ url })), allowedInternalHosts }).map((r) => r.index);

  it('refuses internal hosts unless allowlisted, in the URL parser’s notation', () => {
    expect(check(['https://hooks.example.com/x', 'http://127.0.0.1:9/hook', 'http://2130706433/'])).toEqual([1, 2]);
    expect(check(['http://127.0.0.1:9/hook', 'http://2130706433/'], ['127.0.0.1'])).toEqual([]);
    expect(check(['http://127.0.0.1:9/hook'], ['2130706433'])).toEqual([]);
    expect(check(['http://[::1]:9/'], ['::1'])).toEqual([]);
    expect(check(['http://[::ffff:127.0.0.1]/'], ['127.0.0.1'])).toEqual([0]);
    expect(check(['http://[::ffff:127.0.0.1]/'], ['::ffff:127.0.0.1'])).toEqual([]);
    expect(check(['http://localhost:8080/'], ['LOCALHOST'])).toEqual([]);
    expect(check(['http://169.254.169.254/'], ['127.0.0.1'])).toEqual([0]);
  });

  it('says which host and how to allow it', () => {
    const [refusal] = internalWebhooks({ webhooks: [{ url: 'http://169.254.169.254/latest' }], allowedInternalHosts: [] });
    expect(refusal!.message).toContain('169.254.169.254');
    expect(refusal!.message).toContain('allowedInternalHosts');
    expect(refusal!.message).not.toContain('/latest');
  });

  it('normalizes allowlist entries as the URL parser writes hosts', () => {
    expect(normalizeHost('0x7f.1')).toBe('127.0.0.1');
    expect(normalizeHost('::1')).toBe('[::1]');
    expect(normalizeHost('[::1]')).toBe('[::1]');
    expect(normalizeHost('Hooks.Example.COM')).toBe('hooks.example.com');
  });
});
