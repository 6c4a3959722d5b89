import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { Base64UrlPaddedCodec, Objm, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import {
  checkCheckpointId, checkJobId, checkpointError, idOf, kindOf, parseMetadata, stateName, toDiscard, type CheckpointKind,
} from './common.ts';
import type { CheckpointMetadata, CheckpointStorage, StateHandle } from './types.ts';

export interface JetStreamCheckpointOptions {
  /** `<prefix>.<id>` of the cluster; names the buckets, so clusters sharing a server stay apart. */
  base?: string;
  /** Copies of each bucket's stream: 1 on a single server; with a NATS cluster, 3 survives the loss of a server. */
  replicas?: number;
}

/** The Object Store bucket (state) and KV bucket (metadata) of a cluster. */
export function checkpointBuckets(base = 'cf.default'): { state: string; metadata: string } {
  const token = base.replace(/[^A-Za-z0-9_-]/g, '_');
  return { state: `CF_STATE_${token}`, metadata: `CF_CHECKPOINTS_${token}` };
}

export interface JetStreamPointer {
  bucket: string;
  jobId: string;
  kind: CheckpointKind;
  checkpointId: number;
}

const POINTER = /^jetstream:\/\/([A-Za-z0-9_-]+)\/([A-Za-z0-9_-]+)\/(chk|sp)-(\d+)\/?$/;

/** `jetstream://<kv bucket>/<jobId>/chk-<n>` (or `sp-<n>`), taken apart; a clear error when it is not one. */
export function parseJetStreamPointer(pointer: string): JetStreamPointer {
  const match = POINTER.exec(pointer);
  if (!match) {
    throw checkpointError(`'${pointer}' is not a JetStream checkpoint pointer; expected jetstream://<bucket>/<jobId>/chk-<n> or …/sp-<n>`, { pointer });
  }
  return { bucket: match[1]!, jobId: match[2]!, kind: match[3] as CheckpointKind, checkpointId: Number(match[4]) };
}

export function jetStreamPointer(bucket: string, jobId: string, kind: CheckpointKind, checkpointId: number): string {
  return `jetstream://${bucket}/${jobId}/${kind}-${checkpointId}`;
}

/** Reads metadata from the KV bucket a pointer names, which need not be this cluster's. */
export async function readJetStreamMetadata(connection: NatsConnection, pointer: string, opened?: { bucket: string; kv: KV }): Promise<CheckpointMetadata> {
  const { bucket, jobId, kind, checkpointId } = parseJetStreamPointer(pointer);
  const key = `${jobId}.${kind}-${checkpointId}`;
  let text: string | undefined;
  try {
    const kv = opened?.bucket === bucket ? opened.kv : await new Kvm(connection).open(bucket);
    const entry = await kv.get(key);
    if (entry && entry.operation === 'PUT') text = entry.string();
  } catch (error) {
    throw checkpointError(`cannot read checkpoint metadata ${pointer} (key ${key} of KV bucket ${bucket}): ${(error as Error).message}`, { pointer }, error);
  }
  if (text === undefined) {
    throw checkpointError(`checkpoint metadata ${pointer} does not exist (no key ${key} in KV bucket ${bucket}): discarded, or it never completed`, { pointer });
  }
  return parseMetadata(text, `checkpoint metadata ${pointer}`);
}

/**
 * Checkpoints in JetStream: state blobs in the Object Store bucket `CF_STATE_<base>` (object
 * `<jobId>/chk-<n>/<vertexId>-<subtask>`, chunked by the client), metadata in the KV bucket
 * `CF_CHECKPOINTS_<base>` (key `<jobId>.chk-<n>` or `<jobId>.sp-<n>`), written last. A
 * savepoint's state stays under chk-<n>; its `sp-<n>` key keeps retain() off it. Deletes
 * purge the subjects outright, so no tombstone is left per discarded checkpoint.
 */
export class JetStreamCheckpointStorage implements CheckpointStorage {
  readonly description: string;

  private constructor(
    private readonly connection: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly kv: KV,
    private readonly os: ObjectStore,
    readonly buckets: { state: string; metadata: string },
  ) {
    this.description = `JetStream object store ${buckets.state} (metadata in KV ${buckets.metadata})`;
  }

  /** Creates the buckets if missing. The connection stays the caller's: close() leaves it open. */
  static async open(connection: NatsConnection, options: JetStreamCheckpointOptions = {}): Promise<JetStreamCheckpointStorage> {
    const buckets = checkpointBuckets(options.base);
    // 1 on a single server; with a NATS cluster, 3 keeps every checkpoint through the loss of a server.
    const replicas = options.replicas ?? 1;
    try {
      const kv = await new Kvm(connection).create(buckets.metadata, { history: 1, replicas, description: 'cloudflink checkpoint metadata' });
      const os = await new Objm(connection).create(buckets.state, { replicas, description: 'cloudflink checkpoint state' });
      return new JetStreamCheckpointStorage(connection, await jetstreamManager(connection), kv, os, buckets);
    } catch (error) {
      throw checkpointError(`cannot open the JetStream checkpoint buckets ${buckets.state} and ${buckets.metadata} ` +
        `(replicas ${replicas}): ${(error as Error).message}; does the NATS server run with JetStream (-js), and with enough servers for the replicas?`,
      { buckets }, error);
    }
  }

  async writeState(jobId: string, checkpointId: number, vertexId: string, subtask: number, bytes: Uint8Array): Promise<StateHandle> {
    checkJobId(jobId);
    checkCheckpointId(checkpointId);
    const key = `${jobId}/chk-${checkpointId}/${stateName(vertexId, subtask)}`;
    try {
      await this.os.putBlob({ name: key }, bytes);
    } catch (error) {
      throw checkpointError(`cannot write state ${key} to object store ${this.buckets.state}: ${(error as Error).message}`, { key }, error);
    }
    return { key, size: bytes.byteLength };
  }

  async readState(jobId: string, handle: StateHandle): Promise<Uint8Array> {
    let bytes: Uint8Array | null;
    try {
      bytes = await this.os.getBlob(handle.key);
    } catch (error) {
      throw checkpointError(`cannot read state ${handle.key} of job ${jobId} from object store ${this.buckets.state}: ${(error as Error).message}`, { key: handle.key, jobId }, error);
    }
    if (bytes === null) {
      throw checkpointError(`state ${handle.key} of job ${jobId} is not in object store ${this.buckets.state}: its checkpoint was discarded or written elsewhere`, { key: handle.key, jobId });
    }
    return bytes;
  }

  async writeMetadata(metadata: CheckpointMetadata): Promise<string> {
    checkJobId(metadata.jobId);
    checkCheckpointId(metadata.checkpointId);
    const kind = kindOf(metadata);
    const key = `${metadata.jobId}.${kind}-${metadata.checkpointId}`;
    try {
      await this.kv.put(key, JSON.stringify(metadata));
    } catch (error) {
      throw checkpointError(`cannot write checkpoint metadata ${key} to KV bucket ${this.buckets.metadata}: ${(error as Error).message}`, { key }, error);
    }
    return jetStreamPointer(this.buckets.metadata, metadata.jobId, kind, metadata.checkpointId);
  }

  readMetadata(pointer: string): Promise<CheckpointMetadata> {
    return readJetStreamMetadata(this.connection, pointer, { bucket: this.buckets.metadata, kv: this.kv });
  }

  async latest(jobId: string): Promise<{ pointer: string; metadata: CheckpointMetadata } | undefined> {
    const id = (await this.completed(jobId)).at(-1);
    if (id === undefined) return undefined;
    const pointer = jetStreamPointer(this.buckets.metadata, jobId, 'chk', id);
    return { pointer, metadata: await this.readMetadata(pointer) };
  }

  async completed(jobId: string): Promise<number[]> {
    return (await this.metadataIds(jobId)).chk;
  }

  async discard(jobId: string, checkpointId: number): Promise<void> {
    checkJobId(jobId);
    // Metadata first: a crash half-way leaves a partial checkpoint (cleaned later), never a complete one with holes.
    await this.purgeKey(`${jobId}.chk-${checkpointId}`);
    await this.purgeKey(`${jobId}.sp-${checkpointId}`);
    const prefix = `${jobId}/chk-${checkpointId}/`;
    await this.removeObjects((await this.objects()).filter((o) => o.name.startsWith(prefix)));
  }

  async retain(jobId: string, retained: number): Promise<void> {
    const { chk, sp } = await this.metadataIds(jobId);
    const objects = (await this.objects()).filter((o) => o.name.startsWith(`${jobId}/`));
    const byId = new Map<number, ObjectInfo[]>();
    for (const object of objects) {
      const id = idOf(object.name.split('/')[1] ?? '', 'chk');
      if (id !== undefined) byId.set(id, [...(byId.get(id) ?? []), object]);
    }
    const complete = new Set(chk);
    const savepoints = new Set(sp);
    const partial = [...byId.keys()].filter((id) => !complete.has(id) && !savepoints.has(id));
    for (const id of toDiscard(chk, partial, retained)) {
      if (complete.has(id)) await this.purgeKey(`${jobId}.chk-${id}`);
      // A savepoint shares its id's objects: they stay while its key does.
      if (!savepoints.has(id)) await this.removeObjects(byId.get(id) ?? []);
    }
  }

  async close(): Promise<void> {
    // The buckets hold no client-side resources and the connection belongs to the caller.
  }

  private async metadataIds(jobId: string): Promise<Record<CheckpointKind, number[]>> {
    checkJobId(jobId);
    const ids: Record<CheckpointKind, number[]> = { chk: [], sp: [] };
    try {
      for await (const key of await this.kv.keys(`${jobId}.*`)) {
        const name = key.slice(jobId.length + 1);
        for (const kind of ['chk', 'sp'] as const) {
          const id = idOf(name, kind);
          if (id !== undefined) ids[kind].push(id);
        }
      }
    } catch (error) {
      throw checkpointError(`cannot list the checkpoints of job ${jobId} in KV bucket ${this.buckets.metadata}: ${(error as Error).message}`, { jobId }, error);
    }
    ids.chk.sort((a, b) => a - b);
    ids.sp.sort((a, b) => a - b);
    return ids;
  }

  private async objects(): Promise<ObjectInfo[]> {
    try {
      return await this.os.list();
    } catch (error) {
      throw checkpointError(`cannot list object store ${this.buckets.state}: ${(error as Error).message}`, {}, error);
    }
  }

  /** Purges the key's subject, so neither the value nor a delete marker stays behind. */
  private async purgeKey(key: string): Promise<void> {
    await this.jsm.streams.purge(`KV_${this.buckets.metadata}`, { filter: `$KV.${this.buckets.metadata}.${key}` });
  }

  /**
   * Purges chunks, then the object's metadata (ObjectStore.delete would keep a tombstone per
   * object). In that order a crash leaves a listed object to delete again, never unlisted chunks.
   */
  private async removeObjects(objects: ObjectInfo[]): Promise<void> {
    const stream = `OBJ_${this.buckets.state}`;
    for (const object of objects) {
      await this.jsm.streams.purge(stream, { filter: `$O.${this.buckets.state}.C.${object.nuid}` });
      await this.jsm.streams.purge(stream, { filter: `$O.${this.buckets.state}.M.${Base64UrlPaddedCodec.encode(object.name)}` });
    }
  }
}
