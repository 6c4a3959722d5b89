import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer, connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudflinkError } from '../errors/index.ts';

/**
 * A local nats-server child process with JetStream and its data in a temp dir: what
 * `cluster up`, the embedded quick start and the test harness start.
 */
export interface LocalNats {
  url: string;
  port: number;
  storeDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function natsServerBinary(): string {
  const candidates = [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) {
    throw new CloudflinkError('NATS_UNREACHABLE',
      "nats-server is not installed; install it ('apt-get install nats-server') or pass --nats URL of a running server");
  }
  return found;
}

export interface LocalNatsOptions {
  port?: number;
  jetstream?: boolean;
  /** Kept when given (a restarted server finds its streams); a temp dir removed on stop otherwise. */
  storeDir?: string;
  detached?: boolean;
  /** More nats-server arguments, for example `--user a --pass b`. */
  args?: string[];
}

export async function startLocalNats(options: LocalNatsOptions = {}): Promise<LocalNats> {
  const port = options.port ?? await freePort();
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'cloudflink-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (options.jetstream !== false) args.push('-js', '-sd', storeDir);
  args.push(...(options.args ?? []));
  const child = spawn(natsServerBinary(), args, { stdio: ['ignore', 'ignore', options.detached ? 'ignore' : 'pipe'], detached: options.detached ?? false });
  if (options.detached) child.unref();
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, child, () => stderr);
  const ownsDir = options.storeDir === undefined;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (ownsDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new CloudflinkError('NATS_UNREACHABLE', `nats-server exited at start: ${stderr()}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new CloudflinkError('NATS_UNREACHABLE', `nats-server did not listen on port ${port} within 5 s: ${stderr()}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ port, host: '127.0.0.1' });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
