import { spawn } from 'node:child_process';
import { CLI_ENTRY } from '../../lib/cluster/local.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `cloudflink` command in a child process, as a user would. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
      cwd: options.cwd,
      env: { ...process.env, CLOUDFLINK_LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cloudflink ${args.join(' ')} did not end within ${options.timeoutMs ?? 60_000} ms\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // Let the pipes drain before resolving.
      setImmediate(() => resolve({ code, stdout, stderr }));
    });
  });
}

/** Starts a long-running `cloudflink` command (events --follow, taskmanager) and collects its output. */
export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
    env: { ...process.env, CLOUDFLINK_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => { output.stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output.stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output, exited };
}
