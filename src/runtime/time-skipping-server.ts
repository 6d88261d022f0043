/**
 * Provisions Temporal's time-skipping test server for the simulated-time tests: the Java
 * `io.temporal:temporal-test-server` from Maven Central, run by a small launcher that binds
 * 127.0.0.1 only (the stock `TestServer` main binds every interface).
 *
 * Once per machine Maven resolves the server's classpath into the per-user cache (next to the
 * Temporal CLI's, see temporal-cli.ts) and javac compiles the launcher; after that a call only
 * checks that the jars are still there. The result is a wrapper script the TypeScript SDK runs
 * as `<wrapper> <port> [flags]` (TestWorkflowEnvironment.createTimeSkipping with an
 * `existing-path` executable).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { isExecutable, onPath, toolCacheDir } from './tools';

export const TEST_SERVER_VERSION = '1.31.0';
/** The slf4j API version the test server depends on; its simple binding prints the server's warnings. */
const SLF4J_VERSION = '1.7.36';
const LAUNCHER_CLASS = 'LoopbackTestServer';
const execFileAsync = promisify(execFile);

export interface TimeSkippingServerOptions {
  env?: NodeJS.ProcessEnv;
  /** Receives one human-readable progress line at a time. */
  progress?: (line: string) => void;
}

export interface ProvisionedTimeSkippingServer {
  /** The wrapper script: `<path> <port> [--enable-time-skipping]`. */
  path: string;
  /** `cache` when nothing had to be resolved or compiled. */
  source: 'cache' | 'built';
}

export class TimeSkippingServerError extends Error {
  override name = 'TimeSkippingServerError';
}

/** The same per-user cache as the Temporal CLI's (tools.ts). */
export const cacheDir = (env: NodeJS.ProcessEnv = process.env): string => toolCacheDir('time-skipping-server', TEST_SERVER_VERSION, env);

/**
 * `TestServer.createPortBoundServer` (temporal-test-server), with the gRPC server bound to
 * 127.0.0.1 instead of every interface. Like `TestServer`, time skipping starts locked unless
 * `--enable-time-skipping` is given; the SDK passes only the port and unlocks time itself while
 * it sleeps or waits for a result.
 */
export const LAUNCHER_SOURCE = `import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.temporal.internal.testservice.GRPCServerHelper;
import io.temporal.internal.testservice.TestServicesStarter;
import java.net.InetSocketAddress;

/** Temporal's time-skipping test server on 127.0.0.1 only. Written by patchflow (src/runtime/time-skipping-server.ts). */
public class ${LAUNCHER_CLASS} {
  public static void main(String[] args) throws Exception {
    boolean timeSkipping = args.length == 2 && args[1].equalsIgnoreCase("--enable-time-skipping");
    if (args.length < 1 || args.length > 2 || (args.length == 2 && !timeSkipping)) {
      System.err.println("Usage: ${LAUNCHER_CLASS} <port> [--enable-time-skipping]");
      System.exit(2);
    }
    int port = Integer.parseInt(args[0]);
    TestServicesStarter starter = new TestServicesStarter(!timeSkipping, 0);
    NettyServerBuilder builder =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port), InsecureServerCredentials.create());
    GRPCServerHelper.registerServicesAndHealthChecks(starter.getServices(), builder);
    Server server;
    try {
      server = builder.build().start();
    } catch (java.io.IOException e) {
      // the starter's threads would keep the JVM alive without a server
      System.err.println("Cannot listen on 127.0.0.1:" + port + ": " + e);
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.shutdownNow();
      starter.close();
    }));
    server.awaitTermination();
  }
}
`;

/** The Maven project whose only job is to resolve the server's classpath. */
export function pomXml(): string {
  const dependency = (groupId: string, artifactId: string, version: string) =>
    `    <dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    "<!-- Written by patchflow (src/runtime/time-skipping-server.ts): resolves the time-skipping test server's classpath. -->",
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    '  <modelVersion>4.0.0</modelVersion>',
    '  <groupId>local.patchflow</groupId>',
    '  <artifactId>time-skipping-server</artifactId>',
    `  <version>${TEST_SERVER_VERSION}</version>`,
    '  <packaging>pom</packaging>',
    '  <dependencies>',
    dependency('io.temporal', 'temporal-test-server', TEST_SERVER_VERSION),
    dependency('org.slf4j', 'slf4j-simple', SLF4J_VERSION),
    '  </dependencies>',
    '</project>',
    '',
  ].join('\n');
}

/** A word for a POSIX shell, single-quoted. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The executable the SDK starts. `exec`, so the SDK's kill reaches the JVM itself. IPv4 only, so
 * the socket is a plain 127.0.0.1 one (not an IPv6 socket on ::ffff:127.0.0.1).
 */
export function wrapperScript(options: { java: string; classesDir: string; classpath: string[] }): string {
  const classpath = [options.classesDir, ...options.classpath].join(path.delimiter);
  return [
    '#!/bin/sh',
    `# Temporal's time-skipping test server ${TEST_SERVER_VERSION} on 127.0.0.1 only: <this> <port> [--enable-time-skipping].`,
    '# Written by patchflow (src/runtime/time-skipping-server.ts); `npm run time-skipping-server` writes it again.',
    `exec ${shellQuote(options.java)} -Djava.net.preferIPv4Stack=true -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \\`,
    `  -cp ${shellQuote(classpath)} ${LAUNCHER_CLASS} "$@"`,
    '',
  ].join('\n');
}

/** The jars of Maven's `dependency:build-classpath` output, or undefined when one is gone. */
export function readClasspath(file: string): string[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  const jars = text.split(path.delimiter).filter(Boolean);
  return jars.length > 0 && jars.every((jar) => fs.existsSync(jar)) ? jars : undefined;
}

export async function provisionTimeSkippingServer(options: TimeSkippingServerOptions = {}): Promise<ProvisionedTimeSkippingServer> {
  const env = options.env ?? process.env;
  const progress = options.progress ?? (() => undefined);
  const dir = cacheDir(env);
  const files = cacheFiles(dir);
  const java = findJdkTool('java', env);

  let source: ProvisionedTimeSkippingServer['source'] = 'cache';
  let classpath = readText(files.pom) === pomXml() ? readClasspath(files.classpath) : undefined;
  if (!classpath) {
    classpath = await resolveClasspath(dir, env, progress);
    source = 'built';
  }
  if (!fs.existsSync(files.launcherClass) || readText(files.launcherSource) !== LAUNCHER_SOURCE) {
    await compileLauncher(dir, classpath, env, progress);
    source = 'built';
  }
  writeIfChanged(files.wrapper, wrapperScript({ java, classesDir: files.classes, classpath }), 0o755);
  return { path: files.wrapper, source };
}

function cacheFiles(dir: string) {
  const classes = path.join(dir, 'classes');
  return {
    pom: path.join(dir, 'pom.xml'),
    classpath: path.join(dir, 'classpath.txt'),
    classes,
    launcherClass: path.join(classes, `${LAUNCHER_CLASS}.class`),
    launcherSource: path.join(dir, `${LAUNCHER_CLASS}.java`),
    wrapper: path.join(dir, 'temporal-test-server'),
  };
}

const INSTALL_JDK =
  'Install a JDK 17 or newer (e.g. `apt-get install openjdk-17-jdk-headless`, or https://adoptium.net) and put `java` and `javac` ' +
  'on PATH, or set JAVA_HOME to it.';
const INSTALL_MAVEN =
  'Install Maven 3.8 or newer (e.g. `apt-get install maven`, or https://maven.apache.org/download.cgi) and put `mvn` on PATH.';

/** JAVA_HOME's tool when JAVA_HOME is set (as Maven does), else the one on PATH. */
function findJdkTool(tool: 'java' | 'javac', env: NodeJS.ProcessEnv): string {
  if (env.JAVA_HOME) {
    const file = path.join(env.JAVA_HOME, 'bin', tool);
    if (isExecutable(file)) return file;
    throw new TimeSkippingServerError(`JAVA_HOME=${env.JAVA_HOME} has no bin/${tool}. ${INSTALL_JDK}`);
  }
  const found = onPath(tool, env);
  if (found) return found;
  throw new TimeSkippingServerError(
    `The time-skipping test server needs Java, and \`${tool}\` is not on PATH${tool === 'javac' ? ' (a JRE has no javac)' : ''}. ${INSTALL_JDK}`,
  );
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Writes through a temporary file and a rename, so a concurrent reader never sees half a file. */
function writeAtomically(file: string, text: string, mode = 0o644): void {
  const staging = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(staging, text, { mode });
  fs.renameSync(staging, file);
}

function writeIfChanged(file: string, text: string, mode?: number): void {
  if (readText(file) !== text) writeAtomically(file, text, mode);
}

/** Runs a build tool; its failure becomes an error with the end of its output. */
async function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, what: string): Promise<void> {
  try {
    await execFileAsync(command, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const { stdout = '', stderr = '', message } = err as Error & { stdout?: string; stderr?: string };
    const tail = `${stdout}\n${stderr}`.trim().slice(-4000) || message;
    throw new TimeSkippingServerError(`${what} failed:\n${tail}`);
  }
}

/**
 * `mvn dependency:build-classpath` on a pom with the server as its only dependency; the jars stay
 * in Maven's local repository (~/.m2), the cache keeps the list.
 */
async function resolveClasspath(dir: string, env: NodeJS.ProcessEnv, progress: (line: string) => void): Promise<string[]> {
  const mvn = onPath('mvn', env);
  if (!mvn) {
    throw new TimeSkippingServerError(
      `The time-skipping test server ${TEST_SERVER_VERSION} is not in ${dir}, and Maven is needed to fetch it (no \`mvn\` on PATH). ${INSTALL_MAVEN}`,
    );
  }
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  progress(
    `Resolving io.temporal:temporal-test-server:${TEST_SERVER_VERSION} with Maven into ${dir} ` +
      '(first run only; about 40 jars, 33 MB, from Maven Central into the local Maven repository, ~/.m2)',
  );
  writeAtomically(path.join(dir, 'pom.xml'), pomXml());
  const output = path.join(dir, `classpath.${process.pid}.tmp`);
  await run(
    mvn,
    ['-q', '-B', '-Dstyle.color=never', 'dependency:build-classpath', `-Dmdep.outputFile=${output}`],
    dir,
    env,
    `Resolving the time-skipping test server with Maven (it needs Maven Central, or the jars already in ~/.m2)`,
  );
  fs.renameSync(output, path.join(dir, 'classpath.txt'));
  const classpath = readClasspath(path.join(dir, 'classpath.txt'));
  if (!classpath) throw new TimeSkippingServerError(`Maven wrote no usable classpath to ${path.join(dir, 'classpath.txt')}`);
  progress(`Classpath resolved in ${((Date.now() - started) / 1000).toFixed(1)}s: ${classpath.length} jars`);
  return classpath;
}

/**
 * Compiles the launcher once: Java's source-file mode would compile it again at every start, and
 * the SDK gives the server only 5 s to answer.
 */
async function compileLauncher(dir: string, classpath: string[], env: NodeJS.ProcessEnv, progress: (line: string) => void) {
  const javac = findJdkTool('javac', env);
  const files = cacheFiles(dir);
  progress(`Compiling the 127.0.0.1 launcher into ${files.classes}`);
  fs.mkdirSync(files.classes, { recursive: true });
  const staging = fs.mkdtempSync(path.join(dir, '.javac-'));
  try {
    const source = path.join(staging, `${LAUNCHER_CLASS}.java`);
    fs.writeFileSync(source, LAUNCHER_SOURCE);
    await run(javac, ['-d', staging, '-cp', classpath.join(path.delimiter), source], staging, env, 'Compiling the launcher');
    fs.renameSync(path.join(staging, `${LAUNCHER_CLASS}.class`), files.launcherClass);
    // the source last: it marks the class as compiled from this version of LAUNCHER_SOURCE
    writeAtomically(files.launcherSource, LAUNCHER_SOURCE);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
