import { startLocalNats, type LocalNats, type LocalNatsOptions } from '../../lib/nats-server/index.ts';
import { connectNats, type NatsTransport } from '../../lib/transport/index.ts';

export type TestNats = LocalNats & { connect(): Promise<NatsTransport> };

/** A real nats-server on a free port with a temporary JetStream directory, one per suite. */
export async function startNats(options: LocalNatsOptions = {}): Promise<TestNats> {
  const server = await startLocalNats({ ...options, jetstream: options.jetstream ?? true });
  return Object.assign(server, {
    connect: () => connectNats({ servers: [server.url] }, { role: 'client' }),
  });
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Polls `check` until it returns a value (not undefined/false) or the attempts run out. */
export async function eventually<T>(check: () => T | Promise<T>, what: string, attempts = 200, everyMs = 50): Promise<Exclude<T, false | undefined>> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
