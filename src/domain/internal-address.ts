/**
 * Which webhook hosts are internal (docs/security.md, "Webhooks"): loopback, link-local (cloud
 * metadata at 169.254.169.254 included), private, carrier-grade NAT, unique-local, unspecified,
 * multicast, reserved, and the names `localhost` and `*.localhost`. Anything but a public unicast
 * address counts as internal. Pure: the range tables are ipaddr.js's (no range math here); the
 * URL notations (decimal, octal, hex, IPv4-mapped IPv6) are normalized by the WHATWG URL parser
 * before an address gets here, and a resolved address comes from the resolver in its standard
 * form.
 */
import ipaddr from 'ipaddr.js';

/**
 * The range an IP address belongs to when it is internal (ipaddr.js's name: `loopback`,
 * `linkLocal`, `private`, `carrierGradeNat`, `uniqueLocal`, `unspecified`, ...), undefined for a
 * public unicast address or for text that is no IP address. IPv6 may come with brackets or a zone.
 */
export function internalRange(address: string): string | undefined {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(text)) return undefined;
  let ip = ipaddr.parse(text);
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    // ::ffff:a.b.c.d reaches a.b.c.d: it is judged as that IPv4 address
    if (v6.isIPv4MappedAddress()) ip = v6.toIPv4Address();
    // the deprecated IPv4-compatible ::a.b.c.d (ipaddr.js calls it unicast): nothing public lives there
    else if (v6.parts.slice(0, 6).every((p) => p === 0) && v6.range() === 'unicast') return 'ipv4Compatible';
    // NAT64's well-known prefix carries a public IPv4 address only when the embedded one is public
    else if (v6.range() === 'rfc6052' && ipaddr.IPv6.parse('64:ff9b::').match(v6, 96)) {
      const [a, b] = [v6.parts[6]!, v6.parts[7]!];
      const embedded = new ipaddr.IPv4([a >> 8, a & 0xff, b >> 8, b & 0xff]);
      return embedded.range() === 'unicast' ? undefined : `rfc6052 (${embedded.range()})`;
    }
  }
  const range = ip.range();
  return range === 'unicast' ? undefined : range;
}

/** Whether a URL host (as `URL.hostname` gives it: lower case, IPv6 in brackets) is an IP literal. */
export function isIpLiteral(hostname: string): boolean {
  if (hostname.startsWith('[')) return true;
  return ipaddr.IPv4.isValidFourPartDecimal(hostname);
}

/** `localhost`, `*.localhost` (RFC 6761: always loopback), with or without the root's trailing dot. */
export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/**
 * Why the host of a URL is internal on its face (before any DNS): `localhost`, or the range of an
 * IP literal; undefined for a name (only resolving it tells) or a public address.
 */
export function internalHostReason(hostname: string): string | undefined {
  if (isLocalhostName(hostname)) return 'localhost';
  return isIpLiteral(hostname) ? internalRange(hostname) : undefined;
}

/**
 * A host as the URL parser writes it, so that `2130706433`, `0x7f.0.0.1` and `127.0.0.1` in an
 * allowlist all name the same host as in a webhook URL; IPv6 with or without brackets. Text the
 * parser refuses is kept, lower-cased (it then matches no webhook).
 */
export function normalizeHost(host: string): string {
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  try {
    return new URL(`http://${bracketed}/`).hostname;
  } catch {
    return host.toLowerCase();
  }
}

/** The normalized hosts of `notifications.allowedInternalHosts`. */
export function allowedHosts(allowedInternalHosts: readonly string[]): Set<string> {
  return new Set(allowedInternalHosts.map(normalizeHost));
}

/**
 * Each webhook the policy must refuse: its host is internal on its face and not allowlisted.
 * `index` is the webhook's position; the message names the host and the way out.
 */
export function internalWebhooks(notifications: {
  webhooks: readonly { url: string }[];
  allowedInternalHosts: readonly string[];
}): { index: number; message: string }[] {
  const allowed = allowedHosts(notifications.allowedInternalHosts);
  const refused: { index: number; message: string }[] = [];
  notifications.webhooks.forEach(({ url }, index) => {
    let hostname: string;
    try {
      hostname = new URL(url).hostname;
    } catch {
      return; // the URL's own validation reports it
    }
    const reason = internalHostReason(hostname);
    if (reason === undefined || allowed.has(hostname)) return;
    refused.push({
      index,
      message:
        `the host ${hostname} is an internal address (${reason}); webhooks reach loopback, private, ` +
        `link-local and metadata addresses only on hosts named in notifications.allowedInternalHosts`,
    });
  });
  return refused;
}
