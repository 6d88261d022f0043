import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cacheDir,
  LAUNCHER_SOURCE,
  pomXml,
  provisionTimeSkippingServer,
  readClasspath,
  shellQuote,
  TEST_SERVER_VERSION,
  TimeSkippingServerError,
  wrapperScript,
} from '../../src/runtime/time-skipping-server';
import { executable, tempDir } from '../helpers/temp-files';

/** A cache as a finished provisioning leaves it, with stand-in jars; returns the jar paths. */
function filledCache(xdg: string): string[] {
  const dir = cacheDir({ XDG_CACHE_HOME: xdg });
  fs.mkdirSync(path.join(dir, 'classes'), { recursive: true });
  const jars = ['a.jar', 'b.jar'].map((name) => path.join(dir, name));
  for (const jar of jars) fs.writeFileSync(jar, '');
  fs.writeFileSync(path.join(dir, 'pom.xml'), pomXml());
  fs.writeFileSync(path.join(dir, 'classpath.txt'), jars.join(path.delimiter));
  fs.writeFileSync(path.join(dir, 'classes', 'LoopbackTestServer.class'), '');
  fs.writeFileSync(path.join(dir, 'LoopbackTestServer.java'), LAUNCHER_SOURCE);
  return jars;
}

describe('the wrapper script the SDK runs', () => {
  const script = wrapperScript({ java: '/opt/jdk 17/bin/java', classesDir: '/c/classes', classpath: ["/m2/it's.jar", '/m2/b.jar'] });

  it('execs java on the launcher with the classes first, quoted for the shell, and passes the SDK its arguments', () => {
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(`exec '/opt/jdk 17/bin/java' -Djava.net.preferIPv4Stack=true`);
    expect(script).toContain(`-cp '/c/classes:/m2/it'\\''s.jar:/m2/b.jar' LoopbackTestServer "$@"`);
  });

  it('is a shell script sh reads back to the same words', () => {
    const dir = tempDir('pf-tss-');
    const bin = executable(path.join(dir, 'jdk 17', 'bin'), 'java', 'for a in "$@"; do echo "$a"; done');
    const wrapper = path.join(dir, 'wrapper');
    fs.writeFileSync(wrapper, wrapperScript({ java: bin, classesDir: '/c', classpath: ["/m2/it's.jar"] }), { mode: 0o755 });
    const argv = execFileSync(wrapper, ['4711'], { encoding: 'utf8' }).trim().split('\n');
    expect(argv).toEqual([
      '-Djava.net.preferIPv4Stack=true',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      "/c:/m2/it's.jar",
      'LoopbackTestServer',
      '4711',
    ]);
  });

  it('quotes any word', () => {
    expect(shellQuote('plain')).toBe(`'plain'`);
    expect(shellQuote(`a'b`)).toBe(`'a'\\''b'`);
  });
});

describe('the launcher and the pom', () => {
  it('binds 127.0.0.1 and keeps time skipping locked unless --enable-time-skipping is given', () => {
    expect(LAUNCHER_SOURCE).toContain('new InetSocketAddress("127.0.0.1", port)');
    expect(LAUNCHER_SOURCE).toContain('new TestServicesStarter(!timeSkipping, 0)');
    expect(LAUNCHER_SOURCE).toContain('public class LoopbackTestServer');
  });

  it('asks Maven for the pinned test server only (and a logger binding)', () => {
    const pom = pomXml();
    expect(pom).toContain(
      `<groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>${TEST_SERVER_VERSION}</version>`,
    );
    expect(pom).toContain('<packaging>pom</packaging>');
    expect(pom.match(/<dependency>/g)).toHaveLength(2);
  });
});

describe('the cache', () => {
  it('lives under XDG_CACHE_HOME, versioned', () => {
    expect(cacheDir({ XDG_CACHE_HOME: '/x' })).toBe(path.join('/x', 'patchflow', 'time-skipping-server', TEST_SERVER_VERSION));
  });

  it('reads a classpath only while every jar in it is there', () => {
    const dir = tempDir('pf-tss-');
    const jar = path.join(dir, 'a.jar');
    fs.writeFileSync(jar, '');
    const list = path.join(dir, 'classpath.txt');
    fs.writeFileSync(list, `${jar}\n`);
    expect(readClasspath(list)).toEqual([jar]);
    fs.writeFileSync(list, `${jar}:${path.join(dir, 'gone.jar')}`);
    expect(readClasspath(list)).toBeUndefined();
    expect(readClasspath(path.join(dir, 'missing.txt'))).toBeUndefined();
  });

  it('a filled cache is used without Maven or javac, and the wrapper is written', async () => {
    const xdg = tempDir('pf-tss-');
    const jars = filledCache(xdg);
    const java = executable(tempDir('pf-tss-'), 'java');
    const found = await provisionTimeSkippingServer({ env: { PATH: path.dirname(java), XDG_CACHE_HOME: xdg } });
    expect(found).toEqual({ path: path.join(cacheDir({ XDG_CACHE_HOME: xdg }), 'temporal-test-server'), source: 'cache' });
    expect(fs.readFileSync(found.path, 'utf8')).toBe(
      wrapperScript({ java, classesDir: path.join(path.dirname(found.path), 'classes'), classpath: jars }),
    );
    expect(fs.statSync(found.path).mode & 0o111).not.toBe(0);
  });

  it('a jar gone from ~/.m2 means resolving again, and without Maven that says what to install', async () => {
    const xdg = tempDir('pf-tss-');
    const jars = filledCache(xdg);
    fs.rmSync(jars[1]!);
    const java = executable(tempDir('pf-tss-'), 'java');
    const error = await provisionTimeSkippingServer({ env: { PATH: path.dirname(java), XDG_CACHE_HOME: xdg } }).catch((e) => e);
    expect(error).toBeInstanceOf(TimeSkippingServerError);
    expect(error.message).toContain('no `mvn` on PATH');
    expect(error.message).toContain('Install Maven 3.8 or newer');
  });
});

describe('what is missing, said plainly', () => {
  it('without java: install a JDK', async () => {
    const error = await provisionTimeSkippingServer({ env: { PATH: tempDir('pf-tss-'), XDG_CACHE_HOME: tempDir('pf-tss-') } }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(TimeSkippingServerError);
    expect(error.message).toContain('`java` is not on PATH');
    expect(error.message).toContain('Install a JDK 17 or newer');
  });

  it('a JAVA_HOME without bin/java is an error, not a silent fallback to PATH', async () => {
    const java = executable(tempDir('pf-tss-'), 'java');
    const error = await provisionTimeSkippingServer({
      env: { JAVA_HOME: '/nonexistent/jdk', PATH: path.dirname(java), XDG_CACHE_HOME: tempDir('pf-tss-') },
    }).catch((e) => e);
    expect(error).toBeInstanceOf(TimeSkippingServerError);
    expect(error.message).toContain('JAVA_HOME=/nonexistent/jdk has no bin/java');
  });

  it('a failing Maven reports the end of its output', async () => {
    const bin = tempDir('pf-tss-');
    executable(bin, 'java');
    executable(bin, 'mvn', 'echo "Could not resolve dependencies: repo.maven.apache.org unreachable" >&2; exit 1');
    const error = await provisionTimeSkippingServer({ env: { PATH: bin, XDG_CACHE_HOME: tempDir('pf-tss-') } }).catch((e) => e);
    expect(error).toBeInstanceOf(TimeSkippingServerError);
    expect(error.message).toContain('Resolving the time-skipping test server with Maven');
    expect(error.message).toContain('repo.maven.apache.org unreachable');
  });
});
