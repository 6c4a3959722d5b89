/**
 * Batch join, coGroup and cross of two bounded inputs (Flink's DataSet join, coGroup, cross).
 * They take all of both inputs before they emit; at `drain` they emit what they computed, a
 * few records at a time, from a generator, so that no list of all results is ever built.
 *
 * Keys are equal when their canonicalKey is. As in SQL, a null or undefined key equals
 * nothing, not even another null: such a record never joins, and appears only on the outer
 * side of an outer join, paired with null. coGroup, a grouping, treats null as a key like any
 * other (SQL's GROUP BY): the null-keyed records of both inputs are one group, with key null,
 * and the undefined-keyed ones another, with key undefined. Merging the two would give
 * different groups at different parallelisms, as a hash edge routes them apart.
 *
 * Memory: `memoryBytes` is shared by the operator's buffers (halves for two sorters, or the
 * hash table and the probe side's sorter); past it, records spill to files in `directory`.
 * What it does not bound: a merge join holds one key's group of one side in memory (the
 * smaller one; both sides are read in turn until one ends, so about twice that), a coGroup
 * both of a key's groups, as its function takes them as arrays.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join as joinPath } from 'node:path';
import { ExternalSorter, estimateHeapBytes } from '../../../../lib/batch/external-sorter.ts';
import { decodeFrame, encodeFrame } from '../../../../lib/codec/index.ts';
import type { JoinStrategy, JoinType } from '../../../../lib/descriptor/types.ts';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { canonicalKey } from '../../../../lib/partition/index.ts';
import type { Collector, OperatorLogic, UserFn } from '../types.ts';
import { describe, iterableOf } from '../emit.ts';

/** The memory a blocking operator may use before it spills, and where its spill files go. */
export interface BatchResources { memoryBytes: number; directory: string }

type KeyOf = (record: unknown) => unknown;

/** A record as the sorters hold it: its canonical key (null: it matches nothing), its arrival, the record. */
type Entry = [key: string | null, seq: number, record: unknown];

/** Null keys first, then canonical keys, then arrival. */
function compareKeys(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}
const byKeyThenArrival = (a: Entry, b: Entry): number => compareKeys(a[0], b[0]) || a[1] - b[1];

/** A join key's canonical form; null for a null or undefined key, which matches nothing. */
function canonicalOf(key: unknown, vertexName: string): string | null {
  return key === null || key === undefined ? null : groupKeyOf(key, vertexName);
}

/** A grouping key's canonical form, null and undefined included. */
function groupKeyOf(key: unknown, vertexName: string): string {
  try {
    return canonicalKey(key);
  } catch (error) {
    throw new CloudflinkError('UDF_FAILED', `a key of '${vertexName}' must be a value that msgpack can carry, not ${describe(key)}`, { cause: error });
  }
}

function sorter(resources: BatchResources, share: number): ExternalSorter<Entry> {
  return new ExternalSorter<Entry>({ compare: byKeyThenArrival, memoryBytes: Math.max(1, Math.floor(resources.memoryBytes * share)), directory: resources.directory });
}

/** A sorted iterator with its next entry in view. */
class Cursor {
  private current: IteratorResult<Entry>;

  constructor(private readonly entries: Iterator<Entry>) {
    this.current = entries.next();
  }

  get head(): Entry | undefined {
    return this.current.done ? undefined : this.current.value;
  }

  /** Whether the next entry has canonical key `key` (never true for null). */
  at(key: string): boolean {
    return !this.current.done && this.current.value[0] === key;
  }

  take(): Entry {
    const entry = this.current.value as Entry;
    this.current = this.entries.next();
    return entry;
  }
}

/** The drain step over a generator of results: up to `max` of them per call. */
function drainer(results: () => Iterator<unknown>): { drain(out: Collector, max: number): boolean; stop(): void } {
  let iterator: Iterator<unknown> | undefined;
  let done = false;
  return {
    drain(out, max) {
      if (done) return true;
      iterator ??= results();
      for (let n = 0; n < max; n += 1) {
        const next = iterator.next();
        if (next.done) {
          done = true;
          return true;
        }
        out.emit(next.value);
      }
      return false;
    },
    stop() {
      done = true;
      iterator?.return?.();
    },
  };
}

type Pair = (left: unknown, right: unknown) => unknown;

/**
 * A merge join of two inputs sorted by key: each pair of a key present on both sides, and
 * the outer rows of keys present on one side only (and of null keys).
 */
function* mergeJoin(lefts: Iterator<Entry>, rights: Iterator<Entry>, type: JoinType, pair: Pair): Generator<unknown> {
  const keepLeft = type === 'left' || type === 'full';
  const keepRight = type === 'right' || type === 'full';
  const l = new Cursor(lefts);
  const r = new Cursor(rights);
  for (;;) {
    const left = l.head;
    const right = r.head;
    if (left === undefined && right === undefined) return;
    const order = left === undefined ? 1 : right === undefined ? -1 : compareKeys(left[0], right[0]);
    if (order < 0 || (order === 0 && left![0] === null)) {
      l.take();
      if (keepLeft) yield pair(left![2], null);
    } else if (order > 0) {
      r.take();
      if (keepRight) yield pair(null, right![2]);
    } else {
      yield* matchGroups(l, r, left![0]!, pair);
    }
  }
}

/**
 * Every pair of one key's groups. Both are read in turn until one ends: that one, the
 * smaller, is held in memory, and the other streams past it.
 */
function* matchGroups(l: Cursor, r: Cursor, key: string, pair: Pair): Generator<unknown> {
  const lefts: unknown[] = [];
  const rights: unknown[] = [];
  let leftOpen = true;
  let rightOpen = true;
  while (leftOpen && rightOpen) {
    if (l.at(key)) lefts.push(l.take()[2]); else leftOpen = false;
    if (r.at(key)) rights.push(r.take()[2]); else rightOpen = false;
  }
  if (!leftOpen) {
    for (const right of rights) for (const left of lefts) yield pair(left, right);
    rights.length = 0;
    while (r.at(key)) {
      const right = r.take()[2];
      for (const left of lefts) yield pair(left, right);
    }
  } else {
    for (const left of lefts) for (const right of rights) yield pair(left, right);
    lefts.length = 0;
    while (l.at(key)) {
      const left = l.take()[2];
      for (const right of rights) yield pair(left, right);
    }
  }
}

/** Probes the build side's table with each record of input 1; then, for right and full joins, the build records no probe matched. */
function* hashJoin(probe: Iterator<Entry>, table: Map<string, unknown[]>, nullKeyed: unknown[], type: JoinType, pair: Pair): Generator<unknown> {
  const keepLeft = type === 'left' || type === 'full';
  const keepRight = type === 'right' || type === 'full';
  const matched = new Set<string>();
  for (let next = probe.next(); !next.done; next = probe.next()) {
    const [key, , left] = next.value;
    const rights = key === null ? undefined : table.get(key);
    if (rights !== undefined) {
      if (keepRight) matched.add(key!);
      for (const right of rights) yield pair(left, right);
    } else if (keepLeft) {
      yield pair(left, null);
    }
  }
  if (!keepRight) return;
  for (const [key, rights] of table) if (!matched.has(key)) for (const right of rights) yield pair(null, right);
  for (const right of nullKeyed) yield pair(null, right);
}

/**
 * Joins input 1 with input 2 on key1 = key2 (Flink's DataSet join): `fn(left, right)` per pair,
 * with null for the missing side of an outer join, or [left, right] without `fn`.
 * sort-merge sorts both inputs; the hash strategies build a table of input 2 (for broadcast-hash,
 * the whole of it on every subtask) while it fits in half of `memoryBytes`, keep input 1 in a
 * sorter, and probe at the end; a table that outgrows its memory turns this subtask's join into
 * a sort-merge.
 */
export function batchJoinLogic(
  spec: { type: JoinType; strategy: JoinStrategy },
  fns: { key1: KeyOf; key2: KeyOf; fn?: UserFn },
  resources: BatchResources,
  vertexName: string,
): OperatorLogic {
  const { type, strategy } = spec;
  if (strategy === 'broadcast-hash' && (type === 'right' || type === 'full')) {
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `batch join '${vertexName}': a broadcast-hash join cannot be a ${type} outer join, as every subtask would emit the unmatched records of the broadcast input 2; use 'repartition-hash' or 'sort-merge', or swap the inputs and make it a left join`);
  }
  const fn = fns.fn;
  const pair: Pair = fn === undefined ? (left, right) => [left, right] : (left, right) => fn(left, right);
  let seq = 0;
  const entry = (record: unknown, keyOf: KeyOf): Entry => [canonicalOf(keyOf(record), vertexName), seq++, record];

  // Input 1 is sorted by key whatever the strategy: it may come before input 2 ends, and a
  // table that outgrows its memory then needs it sorted for a merge join.
  const left = sorter(resources, 1 / 2);
  let right: ExternalSorter<Entry> | undefined = strategy === 'sort-merge' ? sorter(resources, 1 / 2) : undefined;
  const table = new Map<string, unknown[]>();
  const nullKeyed: unknown[] = [];
  const tableBudget = resources.memoryBytes / 2;
  let tableBytes = 0;

  const build = (record: unknown): void => {
    const [key] = entry(record, fns.key2);
    if (key === null) {
      nullKeyed.push(record);
      tableBytes += estimateBytes(record);
    } else {
      let group = table.get(key);
      if (group === undefined) {
        group = [];
        table.set(key, group);
        tableBytes += 48 + 2 * key.length;
      }
      group.push(record);
      tableBytes += estimateBytes(record);
    }
    if (tableBytes > tableBudget) {
      // Spill the table: from here on this subtask joins by sort-merge.
      right = sorter(resources, 1 / 2);
      for (const record of nullKeyed) right.add([null, seq++, record]);
      for (const [key, group] of table) for (const record of group) right.add([key, seq++, record]);
      table.clear();
      nullKeyed.length = 0;
    }
  };

  const results = drainer(() => (right !== undefined
    ? mergeJoin(left.sorted(), right.sorted(), type, pair)
    : hashJoin(left.sorted(), table, nullKeyed, type, pair)));

  return {
    process(record, _out, input) {
      if (input === 2) {
        if (right !== undefined) right.add(entry(record, fns.key2)); else build(record);
      } else {
        left.add(entry(record, fns.key1));
      }
    },
    drain: (out, max) => results.drain(out, max),
    close() {
      results.stop();
      left.close();
      right?.close();
      table.clear();
    },
  };
}

/**
 * Groups both inputs by key (Flink's DataSet coGroup): per key present in either, once,
 * `fn(lefts, rights, key)` → an iterable. Null is a key like any other, and so is undefined.
 */
export function batchCoGroupLogic(fns: { key1: KeyOf; key2: KeyOf; fn: UserFn }, resources: BatchResources, vertexName: string): OperatorLogic {
  let seq = 0;
  const sorters = [sorter(resources, 1 / 2), sorter(resources, 1 / 2)] as const;
  const what = `the coGroup function of '${vertexName}'`;

  function* coGroup(): Generator<unknown> {
    const l = new Cursor(sorters[0].sorted());
    const r = new Cursor(sorters[1].sorted());
    for (;;) {
      const left = l.head;
      const right = r.head;
      if (left === undefined && right === undefined) return;
      const key = left === undefined ? right![0] : right === undefined ? left[0] : compareKeys(left[0], right[0]) <= 0 ? left[0] : right[0];
      const lefts: unknown[] = [];
      const rights: unknown[] = [];
      while (l.head !== undefined && l.head[0] === key) lefts.push(l.take()[2]);
      while (r.head !== undefined && r.head[0] === key) rights.push(r.take()[2]);
      const keyValue = lefts.length > 0 ? fns.key1(lefts[0]) : fns.key2(rights[0]);
      yield* iterableOf(fns.fn(lefts, rights, keyValue), what);
    }
  }

  const results = drainer(coGroup);
  return {
    process(record, _out, input) {
      const keyOf = input === 2 ? fns.key2 : fns.key1;
      sorters[input === 2 ? 1 : 0].add([groupKeyOf(keyOf(record), vertexName), seq++, record]);
    },
    drain: (out, max) => results.drain(out, max),
    close() {
      results.stop();
      for (const s of sorters) s.close();
    },
  };
}

/**
 * Every pair of a record of input 1 and one of input 2 (Flink's cross, input 2 the smaller):
 * `fn(a, b)`, or [a, b]. Both inputs are kept in lists that spill past a quarter of
 * `memoryBytes` each; at the end, input 1 is read in blocks of another quarter, and input 2
 * once per block (a block nested loop: one pass when input 2 stayed in memory).
 */
export function batchCrossLogic(fns: { fn?: UserFn }, resources: BatchResources, vertexName: string): OperatorLogic {
  const fn = fns.fn;
  const pair: Pair = fn === undefined ? (a, b) => [a, b] : (a, b) => fn(a, b);
  const quarter = Math.max(1, resources.memoryBytes / 4);
  const inputs = [new SpillList(quarter, resources.directory, `cross-${vertexName}-1`), new SpillList(quarter, resources.directory, `cross-${vertexName}-2`)] as const;

  function* cross(): Generator<unknown> {
    const block: unknown[] = [];
    let blockBytes = 0;
    const pairs = function* (): Generator<unknown> {
      for (const b of inputs[1].records()) for (const a of block) yield pair(a, b);
      block.length = 0;
      blockBytes = 0;
    };
    for (const a of inputs[0].records()) {
      block.push(a);
      blockBytes += estimateBytes(a);
      if (blockBytes > quarter) yield* pairs();
    }
    if (block.length > 0) yield* pairs();
  }

  const results = drainer(cross);
  return {
    process(record, _out, input) {
      inputs[input === 2 ? 1 : 0].add(record);
    },
    drain: (out, max) => results.drain(out, max),
    close() {
      results.stop();
      for (const list of inputs) list.close();
    },
  };
}

/**
 * A list of records in arrival order that may be read many times: in memory up to `budget`
 * estimated bytes, then written to a file as one length-prefixed frame, and so on.
 */
class SpillList {
  private memory: unknown[] = [];
  private bytes = 0;
  private file: string | undefined;
  private fd: number | undefined;
  private written = 0;

  constructor(private readonly budget: number, private readonly directory: string, private readonly name: string) {}

  add(record: unknown): void {
    this.memory.push(record);
    this.bytes += estimateBytes(record);
    if (this.bytes > this.budget) this.spill();
  }

  *records(): Generator<unknown> {
    if (this.fd !== undefined) {
      const header = Buffer.alloc(4);
      for (let position = 0; position < this.written;) {
        readFully(this.fd, header, position);
        const frame = Buffer.alloc(header.readUInt32LE(0));
        readFully(this.fd, frame, position + 4);
        position += 4 + frame.length;
        yield* decodeFrame<unknown[]>(frame);
      }
    }
    yield* this.memory;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    if (this.file !== undefined) rmSync(this.file, { force: true });
    this.fd = undefined;
    this.file = undefined;
    this.memory = [];
  }

  private spill(): void {
    if (this.fd === undefined) {
      mkdirSync(this.directory, { recursive: true });
      this.file = joinPath(this.directory, `${this.name.replace(/[^\w.-]/g, '_')}-${randomUUID()}.spill`);
      this.fd = openSync(this.file, 'w+');
    }
    const frame = encodeFrame(this.memory);
    const header = Buffer.alloc(4);
    header.writeUInt32LE(frame.length, 0);
    this.written += writeSync(this.fd, header, 0, 4, this.written);
    for (let done = 0; done < frame.length;) done += writeSync(this.fd, frame, done, frame.length - done, this.written + done);
    this.written += frame.length;
    this.memory = [];
    this.bytes = 0;
  }
}

function readFully(fd: number, buffer: Buffer, position: number): void {
  for (let done = 0; done < buffer.length;) {
    const read = readSync(fd, buffer, done, buffer.length - done, position + done);
    if (read === 0) throw new CloudflinkError('INTERNAL', 'a spill file ended early');
    done += read;
  }
}

/** A record's estimated heap size, with its slot in a list. */
function estimateBytes(record: unknown): number {
  return 8 + estimateHeapBytes(record, 0);
}
