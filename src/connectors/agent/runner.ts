import { execFile } from 'node:child_process';
import type { Command } from './commands';

export interface CommandResult {
  /** The exit code; 124 after a timeout, 127 when the program does not exist. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kills the command (SIGTERM) after this long. */
  timeoutMs?: number;
  /** Aborting kills the command and rejects with an AbortError. */
  signal?: AbortSignal;
}

/** Runs one command and resolves with how it ended; tests put a fake in its place. */
export type Runner = (command: Command, options?: RunOptions) => Promise<CommandResult>;

export const execRunner: Runner = (command, options = {}) =>
  new Promise((resolve, reject) => {
    // execFile types its error as a structural copy of Error; it is one
    const fail = (error: Error) => reject(error);
    const [file, ...args] = command.argv;
    if (!file) throw new Error('empty command');
    const child = execFile(
      file,
      args,
      {
        env: { ...process.env, ...command.env },
        encoding: 'utf8',
        timeout: options.timeoutMs ?? 0,
        signal: options.signal,
        maxBuffer: 256 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        if (err.name === 'AbortError') return fail(err);
        if (err.code === 'ENOENT') return resolve({ code: 127, stdout, stderr: `${stderr}${file}: command not found\n` });
        if (err.killed && options.timeoutMs)
          return resolve({ code: 124, stdout, stderr: `${stderr}timed out after ${options.timeoutMs} ms\n` });
        if (typeof err.code === 'number') return resolve({ code: err.code, stdout, stderr });
        if (err.signal) return resolve({ code: 128, stdout, stderr: `${stderr}killed by ${err.signal}\n` });
        fail(err);
      },
    );
    // nothing ever answers a prompt
    child.stdin?.end();
  });
