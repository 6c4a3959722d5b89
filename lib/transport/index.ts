export type { Transport, IncomingMessage, Subscription } from './types.ts';
export { NatsTransport, connectNats, type ConnectOptions } from './nats.ts';
export { toConnectionOptions, type NatsSettings } from './nats-options.ts';
