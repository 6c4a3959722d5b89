/**
 * Shuffle storage: blocking result partitions that a batch job's producing subtasks write
 * and its consuming subtasks read back once the producers finished. A directory (beside the
 * checkpoints) or a JetStream Object Store bucket, chosen by the `checkpoints` settings.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import type { CheckpointSettings } from '../checkpoint/index.ts';
import { CloudflinkError } from '../errors/index.ts';
import { DirectoryShuffleStorage } from './directory.ts';
import { JetStreamShuffleStorage } from './jetstream.ts';
import type { ShuffleStorage } from './types.ts';

export type { PartitionId, PartitionWriter, ShuffleStorage } from './types.ts';
export { DirectoryShuffleStorage } from './directory.ts';
export { JetStreamShuffleStorage, shuffleBucket, type JetStreamShuffleOptions } from './jetstream.ts';

const DEFAULT_BASE = 'cf.default';

/** The checkpoint root (the configured directory, or `<os tmpdir>/cloudflink-checkpoints/<base>`), as checkpointDirectory() finds it. */
export function shuffleDirectory(settings: Pick<CheckpointSettings, 'directory'>, base = DEFAULT_BASE): string {
  return settings.directory || join(tmpdir(), 'cloudflink-checkpoints', base);
}

/**
 * The storage the `checkpoints` settings choose: partitions go where checkpoints go. `base` is
 * the cluster's `<prefix>.<id>`: it names the default directory and the JetStream bucket.
 * JetStream needs the connection.
 */
export async function openShuffleStorage(settings: CheckpointSettings, connection?: NatsConnection, base = DEFAULT_BASE): Promise<ShuffleStorage> {
  switch (settings.storage) {
    case 'directory':
      return new DirectoryShuffleStorage(shuffleDirectory(settings, base));
    case 'jetstream':
      if (!connection) throw new CloudflinkError('CONFIG_INVALID', "checkpoints.storage 'jetstream' needs a NATS connection for shuffle partitions; none was given");
      return JetStreamShuffleStorage.open(connection, { base, replicas: settings.replicas });
    default: {
      const unknown: never = settings.storage;
      throw new CloudflinkError('CONFIG_INVALID', `unknown checkpoints.storage '${String(unknown)}': use 'directory' or 'jetstream'`);
    }
  }
}
