import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CloudflinkError } from '../errors/index.ts';
import {
  attemptOf, checkJobId, checkPartitionId, corruptPartition, describePartition, missingPartition, partitionPath, shuffleError,
} from './common.ts';
import { FRAME_HEADER_BYTES, FrameParser } from './frames.ts';
import type { PartitionId, PartitionWriter, ShuffleStorage } from './types.ts';

const READ_CHUNK_BYTES = 256 * 1024;
// Frames are copied into blocks of this size, so small frames reach the file many per system call.
const BLOCK_BYTES = 256 * 1024;
// Full blocks a writer holds before write() waits for the file: with the block being filled, about
// 1.25 MB per partition, which matters when a producer writes to hundreds of consumers at once.
const MAX_QUEUED_BLOCKS = 4;

/**
 * Partitions as files: `<root>/<jobId>/shuffle/a<attempt>/e<edgeIndex>/<from>.<execution>-<to>.frames`,
 * beside the job's checkpoint directories (which only ever look at `chk-N`/`sp-N`). A writer
 * fills a temporary file and renames it on close, so a reader finds a whole partition or none.
 */
export class DirectoryShuffleStorage implements ShuffleStorage {
  readonly root: string;
  readonly description: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `directory ${this.root}`;
  }

  /** Where a partition's file goes; throws for an id that would escape the root. */
  pathOf(id: PartitionId): string {
    checkPartitionId(id);
    return join(this.root, id.jobId, 'shuffle', `${partitionPath(id)}.frames`);
  }

  writer(id: PartitionId): PartitionWriter {
    return new FilePartitionWriter(id, this.pathOf(id));
  }

  read(id: PartitionId): AsyncIterableIterator<Uint8Array> {
    return readPartitionFile(id, () => this.pathOf(id), this.description);
  }

  async discard(jobId: string, beforeAttempt?: number): Promise<void> {
    checkJobId(jobId);
    // The job directory itself stays: its checkpoints may be being written into it right now.
    const dir = join(this.root, jobId, 'shuffle');
    try {
      if (beforeAttempt === undefined) {
        await rm(dir, { recursive: true, force: true });
        return;
      }
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const name of names) {
        const attempt = attemptOf(name);
        if (attempt !== undefined && attempt < beforeAttempt) await rm(join(dir, name), { recursive: true, force: true });
      }
    } catch (error) {
      throw shuffleError(`cannot discard the shuffle partitions of job ${jobId} in ${dir}: ${(error as Error).message}`, { jobId, path: dir }, error);
    }
  }

  async close(): Promise<void> {
    // Nothing is held open between calls: writers and readers own their file handles.
  }
}

/** Frames of a partition file, read 256 KB at a time; the file is opened on the first next() and closed by the end or return(). */
async function* readPartitionFile(id: PartitionId, pathOf: () => string, storage: string): AsyncGenerator<Uint8Array, void, undefined> {
  const path = pathOf();
  const where = `${storage} (file ${path})`;
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw missingPartition(id, where, error);
    throw shuffleError(`cannot open ${describePartition(id)} at ${path}: ${(error as Error).message}`, { ...id, path }, error);
  }
  try {
    const parser = new FrameParser();
    // One buffer for the whole read: the parser copies every frame out of it.
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null));
      } catch (error) {
        throw shuffleError(`cannot read ${describePartition(id)} at ${path}: ${(error as Error).message}`, { ...id, path }, error);
      }
      if (bytesRead === 0) break;
      yield* parser.push(buffer.subarray(0, bytesRead));
    }
    if (parser.midFrame) throw corruptPartition(id, where, 'the file ends inside a frame');
  } finally {
    await handle.close();
  }
}

/**
 * Writes a partition to `<path>.tmp-<pid>-<random>` and renames it on close. Frames are copied
 * into 256 KB blocks that a single loop appends to the file in order; write() resolves as soon as
 * its frame is copied, unless more than MAX_QUEUED_BLOCKS wait for the file.
 *
 * No fsync: partitions are named per attempt and a machine crash fails the attempt, so a file
 * that a crash tore is never read; syncing every partition would only slow the job down.
 */
class FilePartitionWriter implements PartitionWriter {
  private readonly temp: string;
  private readonly what: string;
  private handle: Promise<FileHandle> | undefined;
  /** The block being filled; allocated by the first write, so an unused or empty partition costs nothing. */
  private block: Buffer | undefined;
  private fill = 0;
  private readonly header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  /** Blocks in order, waiting for the file; the first may be being written. */
  private readonly queued: Uint8Array[] = [];
  private readonly waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private failure: CloudflinkError | undefined;
  private aborted = false;

  constructor(private readonly id: PartitionId, private readonly path: string) {
    this.temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    this.what = describePartition(id);
  }

  write(frame: Uint8Array): Promise<void> {
    if (this.aborted || this.closing) return Promise.reject(shuffleError(`cannot write to ${this.what} after close() or abort()`, { ...this.id }));
    if (this.failure) return Promise.reject(this.failure);
    this.header.writeUInt32BE(frame.byteLength);
    this.append(this.header);
    this.append(frame);
    if (this.queued.length > 0) this.flush();
    if (this.queued.length <= MAX_QUEUED_BLOCKS) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  close(): Promise<void> {
    if (this.aborted || this.closing) return Promise.reject(shuffleError(`${this.what} was closed or aborted already`, { ...this.id }));
    this.closing = this.finish();
    return this.closing;
  }

  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    this.fail(shuffleError(`${this.what} was aborted`, { ...this.id }));
    // A close under way may still rename; let it, then remove what it made (never what another writer made).
    const renamed = await this.closing?.then(() => true, () => false);
    await this.flushing?.catch(() => undefined);
    await this.closeHandle().catch(() => undefined);
    await rm(this.temp, { force: true }).catch(() => undefined);
    if (renamed) await rm(this.path, { force: true }).catch(() => undefined);
  }

  private async finish(): Promise<void> {
    if (this.block && this.fill > 0) this.queued.push(this.block.subarray(0, this.fill));
    this.block = undefined;
    this.fill = 0;
    try {
      await this.opened(); // An empty partition is an empty file.
      while (this.queued.length > 0 && !this.failure) {
        this.flush();
        await this.flushing;
      }
      if (this.failure) throw this.failure;
      await this.closeHandle();
      if (this.aborted) throw shuffleError(`${this.what} was aborted while closing`, { ...this.id });
      await rename(this.temp, this.path);
    } catch (error) {
      await this.closeHandle().catch(() => undefined);
      await rm(this.temp, { force: true }).catch(() => undefined);
      if (error instanceof CloudflinkError) throw error;
      throw shuffleError(`cannot write ${this.what} to ${this.path}: ${(error as Error).message}`, { ...this.id, path: this.path }, error);
    }
  }

  /** Copies bytes into the current block, queueing each block that fills. */
  private append(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.byteLength) {
      this.block ??= Buffer.allocUnsafe(BLOCK_BYTES);
      const take = Math.min(BLOCK_BYTES - this.fill, bytes.byteLength - offset);
      this.block.set(bytes.subarray(offset, offset + take), this.fill);
      this.fill += take;
      offset += take;
      if (this.fill === BLOCK_BYTES) {
        this.queued.push(this.block);
        this.block = undefined;
        this.fill = 0;
      }
    }
  }

  /** Starts the loop that appends queued blocks to the file, unless it runs already. */
  private flush(): void {
    if (this.flushing || this.failure) return;
    this.flushing = this.writeQueued().finally(() => { this.flushing = undefined; });
  }

  private async writeQueued(): Promise<void> {
    try {
      const handle = await this.opened();
      while (this.queued.length > 0 && !this.failure) {
        const batch = this.queued.slice(0, MAX_QUEUED_BLOCKS);
        const bytes = batch.reduce((sum, b) => sum + b.byteLength, 0);
        const { bytesWritten } = await handle.writev(batch);
        if (bytesWritten !== bytes) throw new Error(`wrote ${bytesWritten} of ${bytes} bytes`);
        this.queued.splice(0, batch.length);
        if (this.queued.length <= MAX_QUEUED_BLOCKS) {
          for (const waiter of this.waiting.splice(0)) waiter.resolve();
        }
      }
    } catch (error) {
      this.fail(shuffleError(`cannot write ${this.what} to ${this.temp}: ${(error as Error).message}`, { ...this.id, path: this.temp }, error));
    }
  }

  /** Records the first failure; waiting writes reject with it, and nothing more goes to the file. */
  private fail(error: CloudflinkError): void {
    this.failure ??= error;
    this.queued.length = 0;
    for (const waiter of this.waiting.splice(0)) waiter.reject(this.failure);
  }

  private opened(): Promise<FileHandle> {
    this.handle ??= (async () => {
      await mkdir(dirname(this.path), { recursive: true });
      return open(this.temp, 'wx');
    })();
    return this.handle;
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle).close();
  }
}
