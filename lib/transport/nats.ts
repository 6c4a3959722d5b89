import { connect } from '@nats-io/transport-node';
import { errors, type NatsConnection } from '@nats-io/nats-core';
import { CloudflinkError, NoRespondersError, AskTimeoutError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import type { IncomingMessage, Subscription, Transport } from './types.ts';
import { toConnectionOptions, type NatsSettings } from './nats-options.ts';

export interface ConnectOptions {
  /**
   * `node`: a long-lived node; waits for NATS to appear and reconnects forever.
   * `client`: a command or library call; fails within `connectTimeoutMs` when NATS is unreachable.
   */
  role: 'node' | 'client';
  connectTimeoutMs?: number;
  logger?: Logger;
}

export class NatsTransport implements Transport {
  readonly name = 'nats';
  readonly closed: Promise<Error | void>;

  constructor(readonly connection: NatsConnection) {
    this.closed = connection.closed();
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    this.connection.publish(subject, data, reply ? { reply } : undefined);
  }

  subscribe(subject: string, handler: (msg: IncomingMessage) => void, options: { queue?: string } = {}): Subscription {
    const sub = this.connection.subscribe(subject, {
      queue: options.queue,
      callback: (error, msg) => {
        if (error) return;
        handler({ subject: msg.subject, data: msg.data, reply: msg.reply || undefined });
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  async request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    try {
      const reply = await this.connection.request(subject, data, { timeout: timeoutMs });
      return reply.data;
    } catch (error) {
      throw translateRequestError(error, subject, timeoutMs);
    }
  }

  flush(): Promise<void> {
    return this.connection.flush();
  }

  async close(): Promise<void> {
    if (this.connection.isClosed()) return;
    await this.connection.drain().catch(() => this.connection.close());
  }
}

function translateRequestError(error: unknown, subject: string, timeoutMs: number): Error {
  if (error instanceof errors.RequestError && error.isNoResponders()) return new NoRespondersError(subject);
  if (error instanceof errors.NoRespondersError) return new NoRespondersError(subject);
  if (error instanceof errors.TimeoutError || (error instanceof Error && error.cause instanceof errors.TimeoutError)) {
    return new AskTimeoutError(subject, 'request', timeoutMs);
  }
  return error instanceof Error ? error : new Error(String(error));
}

export async function connectNats(settings: NatsSettings, options: ConnectOptions): Promise<NatsTransport> {
  const base = toConnectionOptions(settings);
  const servers = settings.servers.join(', ');
  if (options.role === 'node') {
    // A node outlives NATS restarts and may start before the server: wait and retry forever.
    const connection = await connect({ ...base, waitOnFirstConnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
    watchStatus(connection, options.logger);
    return new NatsTransport(connection);
  }
  const timeout = options.connectTimeoutMs ?? 3000;
  try {
    const connection = await connect({ ...base, timeout, maxReconnectAttempts: 3, reconnectTimeWait: 500 });
    return new NatsTransport(connection);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CloudflinkError('NATS_UNREACHABLE',
      `cannot reach NATS at ${servers} (${reason}); start a cluster with 'cloudflink cluster up' or pass --nats URL`,
      { retryable: true, cause: error });
  }
}

async function watchStatus(connection: NatsConnection, logger?: Logger): Promise<void> {
  if (!logger) return;
  for await (const status of connection.status()) {
    if (status.type === 'disconnect') logger.warn({ server: status.server }, 'lost the connection to NATS; reconnecting');
    else if (status.type === 'reconnect') logger.info({ server: status.server }, 'reconnected to NATS');
    else if (status.type === 'error') logger.error({ err: status.error }, 'NATS error');
  }
}
