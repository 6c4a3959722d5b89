/**
 * A memory-bounded external sort: records are held until an estimate of their heap size
 * reaches the budget, then sorted (stably) and written to disk as a run; sorted() merges
 * the runs with a binary heap, reading each a block at a time. Every call is synchronous
 * and short (one block of IO, or one spill), so a caller can pull records between turns of
 * the event loop.
 *
 * A run file is a sequence of blocks, each a little-endian u32 length and a msgpack frame
 * (lib/codec's data-frame encoding) holding an array of records.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { decodeFrame, encodeFrame } from '../codec/index.ts';

export interface ExternalSorterOptions<T> {
  /** The order; ties keep the order of add() (the sort is stable). */
  compare: (a: T, b: T) => number;
  /** The budget for records held in memory; past it, a sorted run goes to disk. */
  memoryBytes: number;
  /** A directory for spill files, created if missing; close() removes the files this sorter made. */
  directory: string;
}

export interface SorterStats {
  /** Records added. */
  records: number;
  /** Sorted runs written from memory (merge passes write more, not counted here). */
  spilledRuns: number;
  /** Every byte written to disk, by spills and by merge passes. */
  spilledBytes: number;
  /** Merge passes that wrote larger runs before the final merge (0 when at most FAN_IN runs). */
  mergePasses: number;
}

/**
 * The most runs merged at once; with more, merge passes first make fewer, larger runs. Wide,
 * because a merge pass runs whole in the first next(), holding its Task Manager's event loop:
 * 512 runs of the budget each is gigabytes per subtask before that happens, and the readers'
 * blocks (4 KB at least) still fit a budget of 8 MB or more.
 */
export const FAN_IN = 512;
const MIN_BLOCK_BYTES = 4 * 1024;
const MAX_BLOCK_BYTES = 1024 * 1024;
/** A decoded record takes a few times its msgpack size on the heap. */
const HEAP_PER_ENCODED_BYTE = 4;
/** The slot a record takes in the in-memory array. */
const SLOT_BYTES = 8;

type State = 'adding' | 'sorting' | 'failed' | 'closed';

export class ExternalSorter<T> {
  private readonly compare: (a: T, b: T) => number;
  private readonly memoryBytes: number;
  /** Encoded bytes a spill block aims at: FAN_IN readers' blocks, decoded, fit the budget. */
  private readonly blockBytes: number;
  private readonly files: SpillFiles;
  private records: T[] = [];
  private heldBytes = 0;
  private runs: string[] = [];
  private state: State = 'adding';
  private readonly counts: SorterStats = { records: 0, spilledRuns: 0, spilledBytes: 0, mergePasses: 0 };

  constructor(options: ExternalSorterOptions<T>) {
    if (typeof options.compare !== 'function') throw new TypeError('ExternalSorter: compare must be a function');
    if (!(options.memoryBytes > 0) || !Number.isFinite(options.memoryBytes)) {
      throw new RangeError(`ExternalSorter: memoryBytes must be a positive number, got ${options.memoryBytes}`);
    }
    if (typeof options.directory !== 'string' || options.directory === '') throw new TypeError('ExternalSorter: directory must be a path');
    this.compare = options.compare;
    this.memoryBytes = options.memoryBytes;
    const perReader = options.memoryBytes / (FAN_IN * HEAP_PER_ENCODED_BYTE);
    this.blockBytes = Math.floor(Math.min(MAX_BLOCK_BYTES, Math.max(MIN_BLOCK_BYTES, perReader)));
    this.files = new SpillFiles(options.directory);
  }

  add(record: T): void {
    if (this.state !== 'adding') throw new Error(this.refusal('add()'));
    this.records.push(record);
    this.counts.records++;
    this.heldBytes += SLOT_BYTES + estimateHeapBytes(record, 0);
    if (this.heldBytes >= this.memoryBytes) this.spill();
  }

  /** Once, after the last add: every record in order. */
  sorted(): Iterator<T> {
    if (this.state !== 'adding') throw new Error(this.refusal('sorted()'));
    this.state = 'sorting';
    if (this.runs.length === 0) return this.guard(this.inMemory());
    if (this.records.length > 0) this.spill();
    return this.guard(this.merged());
  }

  get stats(): SorterStats {
    return { ...this.counts };
  }

  /** Removes the spill files; safe to call twice, and after a failure. */
  close(): void {
    this.state = 'closed';
    this.records = [];
    this.runs = [];
    this.files.removeAll();
  }

  private refusal(call: string): string {
    switch (this.state) {
      case 'sorting': return `ExternalSorter: ${call} after sorted(); a sorter sorts once`;
      case 'failed': return `ExternalSorter: ${call} after an earlier failure`;
      case 'closed': return `ExternalSorter: ${call} after close()`;
      case 'adding': return `ExternalSorter: ${call} is not allowed now`;
      default: return unreachable(this.state);
    }
  }

  private spill(): void {
    const records = this.records;
    this.records = [];
    this.heldBytes = 0;
    try {
      records.sort(this.compare);
      const writer = new RunWriter(this.files, this.blockBytes);
      for (const record of records) writer.push(record);
      const run = writer.finish();
      this.runs.push(run.path);
      this.counts.spilledRuns++;
      this.counts.spilledBytes += run.bytes;
    } catch (error) {
      this.state = 'failed';
      throw error;
    }
  }

  private inMemory(): Iterator<T> {
    let records: T[] | undefined = this.records;
    this.records = [];
    records.sort(this.compare);
    let index = 0;
    return {
      next: (): IteratorResult<T> => {
        if (records === undefined || index >= records.length) {
          records = undefined;
          return { done: true, value: undefined };
        }
        return { done: false, value: records[index++]! };
      },
    };
  }

  /** The merge starts on the first next(), so that any merge passes happen there rather than in sorted(). */
  private merged(): Iterator<T> {
    let merge: Merge<T> | undefined;
    return {
      next: (): IteratorResult<T> => {
        merge ??= this.startMerge();
        if (merge.empty) return { done: true, value: undefined };
        return { done: false, value: merge.pop() };
      },
    };
  }

  private startMerge(): Merge<T> {
    while (this.runs.length > FAN_IN) this.mergePass();
    const readers = this.runs.map((path, order) => new RunReader<T>(this.files, path, order));
    this.runs = [];
    return new Merge(readers, this.compare);
  }

  /**
   * Merges consecutive runs (so ties stay in input order) FAN_IN at a time, only as many
   * groups as it takes to leave at most FAN_IN runs for the final merge.
   */
  private mergePass(): void {
    const runs = this.runs;
    const next: string[] = [];
    let i = 0;
    while (next.length + (runs.length - i) > FAN_IN) {
      const group = runs.slice(i, i + FAN_IN);
      i += group.length;
      const merge = new Merge(group.map((path, order) => new RunReader<T>(this.files, path, order)), this.compare);
      const writer = new RunWriter(this.files, this.blockBytes);
      while (!merge.empty) writer.push(merge.pop());
      const run = writer.finish();
      this.counts.spilledBytes += run.bytes;
      next.push(run.path);
    }
    for (; i < runs.length; i++) next.push(runs[i]!);
    this.runs = next;
    this.counts.mergePasses++;
  }

  /** A failure mid-iteration leaves the sorter failed; after close() the iterator refuses. */
  private guard(inner: Iterator<T>): Iterator<T> {
    const iterator: Iterator<T> & Iterable<T> = {
      next: (): IteratorResult<T> => {
        if (this.state === 'closed') throw new Error('ExternalSorter: next() after close()');
        if (this.state === 'failed') throw new Error('ExternalSorter: next() after an earlier failure');
        try {
          return inner.next();
        } catch (error) {
          this.state = 'failed';
          throw error;
        }
      },
      [Symbol.iterator]: () => iterator,
    };
    return iterator;
  }
}

/** The spill files of one sorter and their open descriptors, so close() can remove them all. */
class SpillFiles {
  private readonly prefix = `cloudflink-sort-${process.pid}-${randomBytes(4).toString('hex')}`;
  private sequence = 0;
  private created = false;
  private readonly paths = new Set<string>();
  private readonly fds = new Set<number>();

  constructor(readonly directory: string) {}

  create(): { path: string; fd: number } {
    try {
      if (!this.created) {
        mkdirSync(this.directory, { recursive: true });
        this.created = true;
      }
      const path = join(this.directory, `${this.prefix}-${this.sequence++}.run`);
      const fd = openSync(path, 'wx');
      this.paths.add(path);
      this.fds.add(fd);
      return { path, fd };
    } catch (error) {
      throw ioError('create a spill file', this.directory, error);
    }
  }

  open(path: string): number {
    try {
      const fd = openSync(path, 'r');
      this.fds.add(fd);
      return fd;
    } catch (error) {
      throw ioError('open a spill file', this.directory, error);
    }
  }

  closeFd(fd: number): void {
    if (!this.fds.delete(fd)) return;
    closeSync(fd);
  }

  remove(path: string): void {
    if (!this.paths.delete(path)) return;
    unlinkQuietly(path);
  }

  removeAll(): void {
    for (const fd of this.fds) {
      try {
        closeSync(fd);
      } catch {
        // Already closed by a failed write; the file is removed below either way.
      }
    }
    this.fds.clear();
    for (const path of this.paths) unlinkQuietly(path);
    this.paths.clear();
    if (this.created) removeIfEmpty(this.directory);
  }
}

/** The directory it made, once no sorter sharing it has files there (a shared one goes with the last). */
function removeIfEmpty(directory: string): void {
  try {
    rmdirSync(directory);
  } catch {
    // Not empty (another sorter's files), or gone already.
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function ioError(action: string, directory: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  return new Error(`ExternalSorter: cannot ${action} in ${directory}${code ? ` (${code})` : ''}: ${detail}`, { cause: error });
}

/** Writes records, in the order given, as blocks of about blockBytes encoded bytes. */
class RunWriter {
  private readonly path: string;
  private readonly fd: number;
  private pending: unknown[] = [];
  /** Records per block, adjusted after each block towards blockBytes. */
  private perBlock = 64;
  private bytes = 0;

  constructor(private readonly files: SpillFiles, private readonly blockBytes: number) {
    ({ path: this.path, fd: this.fd } = files.create());
  }

  push(record: unknown): void {
    this.pending.push(record);
    if (this.pending.length >= this.perBlock) this.flush();
  }

  finish(): { path: string; bytes: number } {
    this.flush();
    this.files.closeFd(this.fd);
    return { path: this.path, bytes: this.bytes };
  }

  private flush(): void {
    const count = this.pending.length;
    if (count === 0) return;
    const body = encodeFrame(this.pending);
    this.pending = [];
    const block = Buffer.allocUnsafe(4 + body.length);
    block.writeUInt32LE(body.length, 0);
    block.set(body, 4);
    try {
      let written = 0;
      while (written < block.length) written += writeSync(this.fd, block, written, block.length - written, this.bytes + written);
    } catch (error) {
      throw ioError('write a spill file', this.files.directory, error);
    }
    this.bytes += block.length;
    const fit = Math.round((count * this.blockBytes) / body.length);
    this.perBlock = Math.max(1, Math.min(this.perBlock * 4, fit));
  }
}

/** Reads a run one block at a time; removes the file once it is read to the end. */
class RunReader<T> {
  current!: T;
  private fd: number | undefined;
  private position = 0;
  private block: T[] = [];
  private index = 0;
  private readonly header = Buffer.allocUnsafe(4);

  constructor(private readonly files: SpillFiles, private readonly path: string, readonly order: number) {
    this.fd = files.open(path);
  }

  /** Moves to the next record; false at the end of the run. */
  advance(): boolean {
    if (this.index >= this.block.length && !this.load()) return false;
    this.current = this.block[this.index++]!;
    return true;
  }

  private load(): boolean {
    this.block = [];
    this.index = 0;
    while (this.block.length === 0) {
      if (this.fd === undefined) return false;
      if (this.readFully(this.header) < 4) {
        this.files.closeFd(this.fd);
        this.fd = undefined;
        this.files.remove(this.path);
        return false;
      }
      const body = Buffer.allocUnsafe(this.header.readUInt32LE(0));
      if (this.readFully(body) < body.length) throw ioError('read a spill file (truncated)', this.files.directory, new Error(this.path));
      this.block = decodeFrame<T[]>(body);
    }
    return true;
  }

  private readFully(buffer: Buffer): number {
    let read = 0;
    try {
      while (read < buffer.length) {
        const n = readSync(this.fd!, buffer, read, buffer.length - read, this.position);
        if (n === 0) break;
        read += n;
        this.position += n;
      }
    } catch (error) {
      throw ioError('read a spill file', this.files.directory, error);
    }
    return read;
  }
}

/** A k-way merge: a binary min-heap of readers by their current record, ties by run order. */
class Merge<T> {
  private readonly heap: RunReader<T>[];

  constructor(readers: RunReader<T>[], private readonly compare: (a: T, b: T) => number) {
    this.heap = readers.filter((reader) => reader.advance());
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  get empty(): boolean {
    return this.heap.length === 0;
  }

  pop(): T {
    const heap = this.heap;
    const top = heap[0]!;
    const value = top.current;
    if (!top.advance()) {
      const last = heap.pop()!;
      if (heap.length === 0) return value;
      heap[0] = last;
    }
    this.siftDown(0);
    return value;
  }

  private less(a: RunReader<T>, b: RunReader<T>): boolean {
    const c = this.compare(a.current, b.current);
    return c < 0 || (c === 0 && a.order < b.order);
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const n = heap.length;
    let i = start;
    const item = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.less(heap[right]!, heap[left]!) ? right : left;
      if (!this.less(heap[child]!, item)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = item;
  }
}

/**
 * A structural guess at a value's heap size on 64-bit V8 (no pointer compression): cheaper
 * than encoding it, and closer to what the heap holds than the encoded size.
 */
export function estimateHeapBytes(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'number': return (value | 0) === value ? 0 : 16;
    case 'string': return 24 + value.length;
    case 'bigint': return 24;
    case 'boolean':
    case 'undefined': return 0;
    case 'object': {
      if (value === null) return 0;
      if (depth > 16) return 64;
      if (Array.isArray(value)) {
        let bytes = 32 + 8 * value.length;
        for (const element of value) bytes += estimateHeapBytes(element, depth + 1);
        return bytes;
      }
      if (ArrayBuffer.isView(value)) return 96 + value.byteLength;
      if (value instanceof Date) return 32;
      if (value instanceof Map || value instanceof Set) {
        let bytes = 64;
        for (const [k, v] of value.entries()) bytes += 24 + estimateHeapBytes(k, depth + 1) + (value instanceof Map ? estimateHeapBytes(v, depth + 1) : 0);
        return bytes;
      }
      let bytes = 32;
      for (const key in value) bytes += 8 + estimateHeapBytes((value as Record<string, unknown>)[key], depth + 1);
      return bytes;
    }
    default: return 16;
  }
}

function unreachable(value: never): never {
  throw new Error(`unreachable: ${String(value)}`);
}
