import type { CheckpointSettings } from '../checkpoint/types.ts';
import type { NatsSettings } from '../transport/nats-options.ts';

/** pino's levels; 'silent' turns logging off. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The validated configuration every component starts from; config/cloudflink.yaml has the defaults and why. */
export interface CloudflinkConfig {
  /** Every NATS subject starts with `<prefix>.<id>`. */
  cluster: { prefix: string; id: string };
  nats: NatsSettings;
  /** A task manager silent for `timeoutMs` is declared lost; `timeoutMs > intervalMs`. */
  heartbeat: { intervalMs: number; timeoutMs: number };
  taskManager: { slots: number };
  /** `slotWaitMs`: how long a job waits for slots before FAILING; `collectLimit`: most records sink.collect returns. */
  jobManager: { slotWaitMs: number; collectLimit: number };
  /** Records per data frame, flush latency bound, frames an input channel buffers. */
  network: { frameBytes: number; frameRecords: number; bufferTimeoutMs: number; credits: number };
  /** How long lifecycle events stay in JetStream for late monitors. */
  events: { retainHours: number };
  /** Where checkpoint state goes and how many completed checkpoints each job keeps. */
  checkpoints: CheckpointSettings;
  log: { level: LogLevel };
}

/** What a layer (file, environment, flags) may set: any subset; arrays are replaced whole, never merged. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** One problem with the merged configuration, at a source-independent path such as `heartbeat.timeoutMs`. */
export interface ConfigIssue {
  path: string;
  message: string;
  /** Where the offending value was set: a file path, an environment variable or 'flags'. */
  source?: string;
}
