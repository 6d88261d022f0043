/**
 * Webhooks cannot reach internal addresses (issue 14, item 5; docs/security.md, "Webhooks"): the
 * policy refuses them unless allowlisted, and delivery resolves, checks and connects to the
 * address it checked, follows no redirect, and reports and logs the webhook's index and host
 * with a fixed vocabulary of errors. The receivers listen on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, type Policy } from '../../src/domain/policy';
import { createLogger } from '../../src/logger';
import { freePort } from '../../src/runtime/ports';
import { deliver, REFUSED_INTERNAL, type Notification, type Resolver } from '../../src/services/notifications';
import { startTestStack, type TestStack } from '../helpers/servers';

let stack: TestStack;

interface Hit {
  path: string;
  host: string | undefined;
}

/** A receiver on 127.0.0.1 that records each request and answers as `answer` says. */
async function receiver(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.end('ok')) {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push({ path: req.url ?? '', host: req.headers.host });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return { hits, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A logger whose lines the test reads. */
function capturingLogger() {
  const lines: string[] = [];
  return { lines, logger: createLogger('debug', 'test', { write: (line: string) => void lines.push(line) }) };
}

const notification: Notification = { event: 'hold', patchId: '20261122-0000beef', title: 'A patch', text: 'is on hold' };
const notifications = (urls: string[], allowedInternalHosts: string[] = []): Policy['notifications'] => ({
  webhooks: urls.map((url) => ({ url })),
  allowedInternalHosts,
});

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
});
afterAll(async () => {
  await stack?.stop();
});

describe('the policy refuses webhooks to internal addresses', () => {
  const put = (webhooks: string[], allowedInternalHosts?: string[]) =>
    stack.call('PUT', '/v1/policy', {
      token: stack.adminToken,
      body: {
        ...DEFAULT_POLICY,
        notifications: { webhooks: webhooks.map((url) => ({ url })), ...(allowedInternalHosts ? { allowedInternalHosts } : {}) },
      },
    });

  it('refuses loopback, metadata, decimal and IPv4-mapped notations with a 400 naming each webhook', async () => {
    const urls = [
      'https://hooks.example.com/services/T0/B0/secret',
      'http://127.0.0.1:9000/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://2130706433/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::1]:8080/',
      'http://0.0.0.0/',
      'http://10.0.0.5/',
      'http://100.64.1.1/',
      'http://[fd00::1]/',
      'http://[fe80::1]/',
      'http://localhost:3000/',
      'http://ops.localhost/',
      'http://0x7f.1/',
    ];
    const res = await put(urls);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    const paths = (res.body.error.details as { path: string; message: string }[]).map((d) => d.path);
    expect(paths).toEqual(urls.slice(1).map((_url, i) => `body.notifications.webhooks[${i + 1}].url`));
    expect(res.body.error.details[1].message).toContain('169.254.169.254');
    expect(res.body.error.details[1].message).toContain('allowedInternalHosts');
    // nothing was stored
    expect((await stack.call('GET', '/v1/policy', { token: stack.adminToken })).body.version).toBe(0);
  });

  it('accepts them when allowedInternalHosts names the host (in any notation of it)', async () => {
    const allowed = await put(
      ['http://127.0.0.1:9000/hook', 'http://2130706433/', 'http://169.254.169.254/'],
      ['2130706433', '169.254.169.254'],
    );
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    expect(allowed.body.policy.notifications.allowedInternalHosts).toEqual(['2130706433', '169.254.169.254']);
    // another host is not covered by the allowlist
    const other = await put(['http://[::ffff:127.0.0.1]/', 'http://10.0.0.1/'], ['127.0.0.1']);
    expect(other.status).toBe(400);
    expect(other.body.error.details.map((d: { path: string }) => d.path)).toEqual([
      'body.notifications.webhooks[0].url',
      'body.notifications.webhooks[1].url',
    ]);
  });

  it('answers 400, never 500, for odd hosts and allowlists', async () => {
    for (const [urls, allow] of [
      [['http://[::]/'], undefined],
      [['http://999.1.1.1/'], undefined],
      [['http://[1:2::3:4::5]/'], undefined],
      [['http://example.com/'], ['not a host!']],
      [['ftp://example.com/'], undefined],
    ] as [string[], string[] | undefined][]) {
      const res = await put(urls, allow);
      expect(res.status, `${urls.join()} ${JSON.stringify(res.body)}`).toBe(400);
    }
  });
});

describe('delivery', () => {
  it('refuses an internal address unless allowlisted, and delivers when it is', async () => {
    const hook = await receiver();
    try {
      const url = `http://127.0.0.1:${hook.port}/hook/T0/secret-path?token=s3cret`;
      const { lines, logger } = capturingLogger();
      const refused = await deliver(notifications([url]), notification, logger, { backoffMs: 1 });
      expect(refused).toEqual({ delivered: [], failed: [{ webhook: 0, host: '127.0.0.1', error: REFUSED_INTERNAL }] });
      expect(hook.hits).toEqual([]);
      // the log names the host, never the path or the query
      expect(lines.join('\n')).toContain('127.0.0.1');
      expect(lines.join('\n')).not.toMatch(/secret-path|s3cret/);

      const allowed = await deliver(notifications([url], ['127.0.0.1']), notification, logger, { backoffMs: 1 });
      expect(allowed).toEqual({ delivered: [{ webhook: 0, host: '127.0.0.1' }], failed: [] });
      expect(hook.hits).toHaveLength(1);
      expect(hook.hits[0]!.path).toBe('/hook/T0/secret-path?token=s3cret');
    } finally {
      await hook.close();
    }
  });

  it('refuses the other internal notations at delivery too (a policy stored before the rule)', async () => {
    const { logger } = capturingLogger();
    const urls = [
      'http://2130706433/',
      'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/latest',
      'http://localhost./',
      'http://[::1]/',
    ];
    const report = await deliver(notifications(urls), notification, logger, { backoffMs: 1 });
    expect(report.delivered).toEqual([]);
    expect(report.failed.map((f) => f.error)).toEqual(urls.map(() => REFUSED_INTERNAL));
    expect(report.failed.map((f) => f.host)).toEqual(['127.0.0.1', '[::ffff:7f00:1]', '169.254.169.254', 'localhost.', '[::1]']);
  });

  it('refuses a name that resolves to an internal address, if any of its addresses is', async () => {
    const hook = await receiver();
    try {
      const { logger } = capturingLogger();
      const resolve: Resolver = async (host) => {
        if (host === 'hooks.example.test') return [{ address: '127.0.0.1', family: 4 }];
        // one public address and one internal: refused all the same
        return [
          { address: '93.184.215.14', family: 4 },
          { address: '10.0.0.7', family: 4 },
        ];
      };
      const report = await deliver(
        notifications([`http://hooks.example.test:${hook.port}/x`, `http://mixed.example.test:${hook.port}/y`]),
        notification,
        logger,
        { backoffMs: 1, resolve },
      );
      expect(report.failed).toEqual([
        { webhook: 0, host: 'hooks.example.test', error: REFUSED_INTERNAL },
        { webhook: 1, host: 'mixed.example.test', error: REFUSED_INTERNAL },
      ]);
      expect(hook.hits).toEqual([]);
    } finally {
      await hook.close();
    }
  });

  it('connects to the address it checked, whatever the name resolves to afterwards, with the URL’s Host', async () => {
    const hook = await receiver();
    try {
      const { logger } = capturingLogger();
      const asked: string[] = [];
      // the name is allowlisted and resolves to the receiver once; any later answer would not connect
      const resolve: Resolver = async (host) => {
        asked.push(host);
        return asked.length === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '192.0.2.1', family: 4 }];
      };
      const report = await deliver(
        notifications([`http://rebind.example.test:${hook.port}/x`], ['rebind.example.test']),
        notification,
        logger,
        {
          resolve,
        },
      );
      expect(report).toEqual({ delivered: [{ webhook: 0, host: 'rebind.example.test' }], failed: [] });
      expect(asked).toEqual(['rebind.example.test']);
      expect(hook.hits).toEqual([{ path: '/x', host: `rebind.example.test:${hook.port}` }]);
    } finally {
      await hook.close();
    }
  });

  it('keeps the URL’s name for https: SNI and the certificate check use it, not the address', async () => {
    // a certificate for hooks.example.test only (openssl, as deploy/make-certs.sh uses)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-webhook-tls-'));
    const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1'].concat([
        '-subj',
        '/CN=hooks.example.test',
        '-addext',
        'subjectAltName=DNS:hooks.example.test',
      ]),
      { stdio: 'ignore' },
    );
    const seen: string[] = [];
    const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
      seen.push(`${(req.socket as unknown as { servername: string }).servername} ${req.headers.host}`);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const { logger } = capturingLogger();
      const resolve: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
      const ca = [fs.readFileSync(cert, 'utf8')];
      const hooks = notifications([`https://hooks.example.test:${port}/h`], ['hooks.example.test']);
      expect(await deliver(hooks, notification, logger, { resolve, ca })).toEqual({
        delivered: [{ webhook: 0, host: 'hooks.example.test' }],
        failed: [],
      });
      expect(seen).toEqual([`hooks.example.test hooks.example.test:${port}`]);
      // the same receiver under another name: its certificate does not match, nothing is sent
      const other = notifications([`https://other.example.test:${port}/h`], ['other.example.test']);
      expect(await deliver(other, notification, logger, { resolve, ca, backoffMs: 1 })).toEqual({
        delivered: [],
        failed: [{ webhook: 0, host: 'other.example.test', error: 'connection failed' }],
      });
      expect(seen).toHaveLength(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows no redirect: a 302 is a failed delivery, tried once', async () => {
    const target = await receiver();
    const redirecting = await receiver((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/metadata` }).end('moved');
    });
    try {
      const { logger } = capturingLogger();
      const report = await deliver(notifications([`http://127.0.0.1:${redirecting.port}/hook`], ['127.0.0.1']), notification, logger, {
        backoffMs: 1,
      });
      expect(report).toEqual({ delivered: [], failed: [{ webhook: 0, host: '127.0.0.1', error: 'HTTP 302' }] });
      expect(redirecting.hits).toHaveLength(1);
      expect(target.hits).toEqual([]);
    } finally {
      await Promise.all([target.close(), redirecting.close()]);
    }
  });

  it('reports a status, never what the receiver or the network said', async () => {
    const failing = await receiver((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('internal secret: db password is hunter2');
    });
    const silent = await receiver(() => {
      // never answers
    });
    const down = await freePort();
    try {
      const { lines, logger } = capturingLogger();
      const report = await deliver(
        notifications(
          [
            `http://127.0.0.1:${failing.port}/a`,
            `http://127.0.0.1:${silent.port}/b`,
            `http://127.0.0.1:${down}/c`,
            'http://unresolvable.example.test/d',
          ],
          ['127.0.0.1'],
        ),
        notification,
        logger,
        { backoffMs: 1, timeoutMs: 300, resolve: () => Promise.reject(new Error('getaddrinfo ENOTFOUND unresolvable.example.test')) },
      );
      expect(report.delivered).toEqual([]);
      expect(report.failed).toEqual([
        { webhook: 0, host: '127.0.0.1', error: 'HTTP 500' },
        { webhook: 1, host: '127.0.0.1', error: 'timeout' },
        { webhook: 2, host: '127.0.0.1', error: 'connection failed' },
        { webhook: 3, host: 'unresolvable.example.test', error: 'name not resolved' },
      ]);
      // a 5xx is tried again (three times in all)
      expect(failing.hits).toHaveLength(3);
      const logged = lines.join('\n');
      expect(logged).not.toMatch(/hunter2|ECONNREFUSED|ENOTFOUND|\/a"|\/b"|\/c"|\/d"/);
    } finally {
      await Promise.all([failing.close(), silent.close()]);
    }
  });

  it('sends only the events a receiver asked for', async () => {
    const hook = await receiver();
    try {
      const { logger } = capturingLogger();
      const report = await deliver(
        {
          webhooks: [
            { url: `http://127.0.0.1:${hook.port}/a`, events: ['completed'] },
            { url: `http://127.0.0.1:${hook.port}/b`, events: ['hold'] },
          ],
          allowedInternalHosts: ['127.0.0.1'],
        },
        notification,
        logger,
      );
      expect(report).toEqual({ delivered: [{ webhook: 1, host: '127.0.0.1' }], failed: [] });
      expect(hook.hits.map((h) => h.path)).toEqual(['/b']);
    } finally {
      await hook.close();
    }
  });
});
