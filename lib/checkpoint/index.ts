/**
 * Checkpoint storage: where tasks write their state and the Job Manager the metadata that
 * completes a checkpoint. A directory (the local default) or JetStream (Object Store + KV).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { CloudflinkError } from '../errors/index.ts';
import { DirectoryCheckpointStorage, readDirectoryMetadata } from './directory.ts';
import { JetStreamCheckpointStorage, readJetStreamMetadata } from './jetstream.ts';
import type { CheckpointMetadata, CheckpointSettings, CheckpointStorage } from './types.ts';

export type { CheckpointMetadata, CheckpointSettings, CheckpointStorage, StateHandle } from './types.ts';
export { DirectoryCheckpointStorage, readDirectoryMetadata } from './directory.ts';
export {
  JetStreamCheckpointStorage, checkpointBuckets, parseJetStreamPointer, readJetStreamMetadata,
  type JetStreamCheckpointOptions, type JetStreamPointer,
} from './jetstream.ts';

const DEFAULT_BASE = 'cf.default';

/** The configured directory, or `<os tmpdir>/cloudflink-checkpoints/<prefix>.<id>` when it is ''. */
export function checkpointDirectory(config: { cluster: { prefix: string; id: string }; checkpoints: Pick<CheckpointSettings, 'directory'> }): string {
  return directoryFor(config.checkpoints, `${config.cluster.prefix}.${config.cluster.id}`);
}

function directoryFor(settings: Pick<CheckpointSettings, 'directory'>, base: string): string {
  return settings.directory || join(tmpdir(), 'cloudflink-checkpoints', base);
}

/**
 * The storage the settings choose. `base` is the cluster's `<prefix>.<id>`: it names the
 * default directory and the JetStream buckets. JetStream needs the connection.
 */
export async function openCheckpointStorage(settings: CheckpointSettings, connection?: NatsConnection, base = DEFAULT_BASE): Promise<CheckpointStorage> {
  switch (settings.storage) {
    case 'directory':
      return new DirectoryCheckpointStorage(directoryFor(settings, base));
    case 'jetstream':
      if (!connection) throw new CloudflinkError('CONFIG_INVALID', "checkpoints.storage 'jetstream' needs a NATS connection; none was given");
      return JetStreamCheckpointStorage.open(connection, { base, replicas: settings.replicas });
    default: {
      const unknown: never = settings.storage;
      throw new CloudflinkError('CONFIG_INVALID', `unknown checkpoints.storage '${String(unknown)}': use 'directory' or 'jetstream'`);
    }
  }
}

/** Reads the metadata a pointer names, whichever storage wrote it: `jetstream://…` or a directory path. */
export function readMetadataAt(pointer: string, connection?: NatsConnection): Promise<CheckpointMetadata> {
  if (pointer.startsWith('jetstream://')) {
    if (!connection) {
      return Promise.reject(new CloudflinkError('INTERNAL', `reading ${pointer} needs a NATS connection; none was given`, { data: { pointer } }));
    }
    return readJetStreamMetadata(connection, pointer);
  }
  return readDirectoryMetadata(pointer);
}
