import { createHash } from 'node:crypto';
import { jetstreamManager, type JetStreamManager, type MsgRequest, type StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { Base64UrlPaddedCodec, Objm, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import { CloudflinkError } from '../errors/index.ts';
import {
  attemptOf, checkJobId, checkPartitionId, corruptPartition, describePartition, missingPartition, partitionPath, shuffleError,
} from './common.ts';
import { FrameParser, framed } from './frames.ts';
import type { PartitionId, PartitionWriter, ShuffleStorage } from './types.ts';

export interface JetStreamShuffleOptions {
  /** `<prefix>.<id>` of the cluster; names the bucket, so clusters sharing a server stay apart. */
  base?: string;
  /** Copies of the bucket's stream: 1 on a single server; with a NATS cluster, 3 survives the loss of a server. */
  replicas?: number;
}

/** The Object Store bucket of a cluster's partitions. */
export function shuffleBucket(base = 'cf.default'): string {
  return `CF_SHUFFLE_${base.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/**
 * Partitions as objects `<jobId>/a<attempt>/e<edgeIndex>/<from>.<execution>-<to>` in the Object Store bucket
 * `CF_SHUFFLE_<base>`. A writer streams its frames into one put, which the store makes visible
 * only once it completes, and which replaces an earlier object of the same name. Deletes purge
 * the subjects outright, so no tombstone is left per discarded partition.
 */
export class JetStreamShuffleStorage implements ShuffleStorage {
  readonly description: string;
  private readonly stream: string;

  private constructor(private readonly jsm: JetStreamManager, private readonly os: ObjectStore, readonly bucket: string) {
    this.description = `JetStream object store ${bucket}`;
    this.stream = `OBJ_${bucket}`;
  }

  /** Creates the bucket if missing. The connection stays the caller's: close() leaves it open. */
  static async open(connection: NatsConnection, options: JetStreamShuffleOptions = {}): Promise<JetStreamShuffleStorage> {
    const bucket = shuffleBucket(options.base);
    const replicas = options.replicas ?? 1;
    try {
      const os = await new Objm(connection).create(bucket, { replicas, description: 'cloudflink blocking result partitions' });
      return new JetStreamShuffleStorage(await jetstreamManager(connection), os, bucket);
    } catch (error) {
      throw shuffleError(`cannot open the JetStream shuffle bucket ${bucket} (replicas ${replicas}): ${(error as Error).message}; ` +
        'does the NATS server run with JetStream (-js), and with enough servers for the replicas?', { bucket }, error);
    }
  }

  /** The object a partition is stored as; throws for an id that cannot name one. */
  objectName(id: PartitionId): string {
    checkPartitionId(id);
    return `${id.jobId}/${partitionPath(id)}`;
  }

  writer(id: PartitionId): PartitionWriter {
    const name = this.objectName(id);
    return new ObjectPartitionWriter(id, `${this.description} (object ${name})`,
      (source) => this.os.put({ name }, source), () => this.remove(name));
  }

  read(id: PartitionId): AsyncIterableIterator<Uint8Array> {
    return this.readObject(id);
  }

  async discard(jobId: string, beforeAttempt?: number): Promise<void> {
    checkJobId(jobId);
    const prefix = `${jobId}/`;
    try {
      for (const object of await this.os.list()) {
        if (!object.name.startsWith(prefix)) continue;
        const attempt = attemptOf(object.name.slice(prefix.length).split('/')[0] ?? '');
        if (beforeAttempt === undefined || (attempt !== undefined && attempt < beforeAttempt)) await this.purge(object);
      }
    } catch (error) {
      throw shuffleError(`cannot discard the shuffle partitions of job ${jobId} in ${this.description}: ${(error as Error).message}`, { jobId }, error);
    }
  }

  async close(): Promise<void> {
    // The bucket holds no client-side resources and the connection belongs to the caller.
  }

  /**
   * Reads chunk after chunk by stream sequence rather than with ObjectStore.get(), whose push
   * consumer queues the whole object in memory when the reader is slower than the server.
   * Nothing is held between chunks, so a reader that stops early leaves nothing behind.
   */
  private async *readObject(id: PartitionId): AsyncGenerator<Uint8Array, void, undefined> {
    const name = this.objectName(id);
    const where = `${this.description} (object ${name})`;
    let info: ObjectInfo | null;
    try {
      info = await this.os.info(name);
    } catch (error) {
      throw shuffleError(`cannot look up ${describePartition(id)} in ${where}: ${(error as Error).message}`, { ...id, bucket: this.bucket }, error);
    }
    if (!info || info.deleted) throw missingPartition(id, where);
    const subject = `$O.${this.bucket}.C.${info.nuid}`;
    const parser = new FrameParser();
    const hash = createHash('sha256');
    let size = 0;
    let seq = 0;
    for (let chunk = 0; chunk < info.chunks; chunk++) {
      const message = await this.chunkFrom(seq + 1, subject, id, where);
      seq = message.seq;
      size += message.data.byteLength;
      hash.update(message.data);
      yield* parser.push(message.data);
    }
    if (size !== info.size) throw corruptPartition(id, where, `${size} bytes read, ${info.size} stored`);
    if (!hash.digest().equals(Buffer.from(info.digest.replace(/^SHA-256=/, ''), 'base64url'))) throw corruptPartition(id, where, 'its SHA-256 digest does not match');
    if (parser.midFrame) throw corruptPartition(id, where, 'it ends inside a frame');
  }

  /** The first chunk at or after `seq`, from the stream leader (a replica may lag behind the put). */
  private async chunkFrom(seq: number, subject: string, id: PartitionId, where: string): Promise<StoredMsg> {
    let message: StoredMsg | null;
    try {
      // next_by_subj is in the server's STREAM.MSG.GET since 2.9; the client's type lists only seq and last_by_subj.
      message = await this.jsm.streams.getMessage(this.stream, { seq, next_by_subj: subject } as unknown as MsgRequest);
    } catch (error) {
      throw shuffleError(`cannot read ${describePartition(id)} from ${where}: ${(error as Error).message}`, { ...id, bucket: this.bucket }, error);
    }
    if (!message) {
      throw new CloudflinkError('SHUFFLE_MISSING', `${describePartition(id)} vanished from ${where} while being read: ` +
        'a re-run of its producer replaced it, or it was discarded; read it again once the producer has finished', { data: { ...id, where } });
    }
    return message;
  }

  private async remove(name: string): Promise<void> {
    const info = await this.os.info(name);
    if (info) await this.purge(info);
  }

  /**
   * Purges chunks, then the object's metadata (ObjectStore.delete would keep a tombstone per
   * object). In that order a crash leaves a listed object to delete again, never unlisted chunks.
   */
  private async purge(object: ObjectInfo): Promise<void> {
    await this.jsm.streams.purge(this.stream, { filter: `$O.${this.bucket}.C.${object.nuid}` });
    await this.jsm.streams.purge(this.stream, { filter: `$O.${this.bucket}.M.${Base64UrlPaddedCodec.encode(object.name)}` });
  }
}

interface Pending {
  bytes: Uint8Array;
  taken(): void;
  failed(error: Error): void;
}

/**
 * Feeds frames to one ObjectStore.put through a pull-only stream: the put asks for the next
 * frame only once it has published what it holds, so at most a chunk and a frame sit in memory
 * when the caller awaits each write(). The put starts with the first write (or close).
 */
class ObjectPartitionWriter implements PartitionWriter {
  private readonly queue: Pending[] = [];
  private wake: (() => void) | undefined;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private put: Promise<unknown> | undefined;
  private failure: CloudflinkError | undefined;
  private ending = false;
  private closing: Promise<void> | undefined;
  private aborted = false;

  constructor(
    private readonly id: PartitionId,
    private readonly where: string,
    private readonly putObject: (source: ReadableStream<Uint8Array>) => Promise<unknown>,
    private readonly removeObject: () => Promise<void>,
  ) {}

  write(frame: Uint8Array): Promise<void> {
    if (this.aborted || this.closing) return Promise.reject(shuffleError(`cannot write to ${describePartition(this.id)} after close() or abort()`, { ...this.id }));
    if (this.failure) return Promise.reject(this.failure);
    this.start();
    return new Promise((taken, failed) => {
      this.queue.push({ bytes: framed(frame), taken, failed });
      this.wake?.();
    });
  }

  close(): Promise<void> {
    if (this.aborted || this.closing) return Promise.reject(shuffleError(`${describePartition(this.id)} was closed or aborted already`, { ...this.id }));
    this.closing = this.finish();
    return this.closing;
  }

  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    const error = shuffleError(`${describePartition(this.id)} was aborted`, { ...this.id });
    this.fail(error);
    // An errored source makes the put purge the chunks it published and reject.
    this.controller?.error(error);
    this.wake?.();
    const closed = await this.closing?.then(() => true, () => false);
    await this.put?.catch(() => undefined);
    // A close that completed first must not stay readable; another writer's object (a re-run's) is left alone.
    if (closed) await this.removeObject().catch(() => undefined);
  }

  private async finish(): Promise<void> {
    this.start();
    this.ending = true;
    this.wake?.();
    try {
      await this.put;
    } catch {
      // fail() has recorded why.
    }
    if (this.failure) throw this.failure;
  }

  private start(): void {
    if (this.put) return;
    const source = new ReadableStream<Uint8Array>({
      start: (controller) => { this.controller = controller; },
      pull: (controller) => this.pull(controller),
    }, { highWaterMark: 0 });
    this.put = this.putObject(source);
    this.put.catch((error: unknown) => this.fail(error instanceof CloudflinkError ? error
      : shuffleError(`cannot write ${describePartition(this.id)} to ${this.where}: ${(error as Error).message}`, { ...this.id }, error)));
  }

  /** Hands the put the next frame, waiting for one; ends the stream once close() was called and all are taken. */
  private async pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      if (this.failure) return;
      const next = this.queue.shift();
      if (next) {
        controller.enqueue(next.bytes);
        next.taken();
        return;
      }
      if (this.ending) {
        controller.close();
        return;
      }
      await new Promise<void>((resolve) => { this.wake = resolve; });
      this.wake = undefined;
    }
  }

  /** Records the first failure; frames not yet taken reject with it. */
  private fail(error: CloudflinkError): void {
    this.failure ??= error;
    for (const pending of this.queue.splice(0)) pending.failed(this.failure);
  }
}
