/**
 * The job descriptor: the versioned document a client submits on `<p>.jobs.submit`.
 * Its JSON Schema is config/descriptor.schema.json; keep the two in step.
 */
import type { NexmarkConfig } from '../nexmark/config.ts';
import type { RestartStrategy } from '../restart/index.ts';

export type { RestartStrategy };

export const DESCRIPTOR_API_VERSION = 'cloudflink/v1';

/**
 * A user function: JavaScript source text of a function expression
 * (`"(line) => line.split(' ')"`), or a module installed on the Task Manager hosts.
 * Source text is evaluated with `params` in scope; closures over other variables are not shipped.
 */
export type UserFunction = string | { module: string; export?: string };

/** `custom`: the sending operator picks each record's subtask (a range partitioner's, out of batch.rangePartition). */
export type Partitioning = 'forward' | 'rebalance' | 'hash' | 'broadcast' | 'custom';

/** A key: a field name or array index of the record, or a key-selector function. */
export type KeySelector = { field: string | number } | { fn: UserFunction };

export interface SourceFromElements { operator: 'source.elements'; elements: unknown[] }
export interface SourceTextFile { operator: 'source.textFile'; path: string }
/** Emits `fn(index)` for index in [0, count); deterministic, so it can be replayed. */
export interface SourceGenerator {
  operator: 'source.generator';
  count: number;
  fn?: UserFunction;
  /** At most this many records per second over all subtasks (a steady input rate); unlimited when absent. */
  ratePerSecond?: number;
}
/**
 * The Nexmark benchmark's events (Person, Auction, Bid in proportion 1:3:46) for event numbers
 * [0, events): deterministic, so it can be replayed, and at any parallelism.
 */
export interface SourceNexmark {
  operator: 'source.nexmark';
  events: number;
  /** The generator's settings (event rate for the timestamps, hot ratios, …); the reference's defaults when absent. */
  config?: NexmarkConfig;
  /** Emits at most this many events per second over all subtasks; unlimited when absent. */
  ratePerSecond?: number;
}
export interface MapVertex { operator: 'map'; fn: UserFunction }
export interface FilterVertex { operator: 'filter'; fn: UserFunction }
/** `fn` returns an iterable (usually an array) of output records. */
export interface FlatMapVertex { operator: 'flatMap'; fn: UserFunction }
/** Keyed: the key comes from the vertex's single `hash` input edge. Emits the running result per record. */
export interface ReduceVertex { operator: 'reduce'; fn: UserFunction }
/** Keyed: a running sum of `field` per key; the other fields are those of the first record of the key. */
export interface SumVertex { operator: 'sum'; field: string | number }
/**
 * Keyed rolling extremum of `field` (numbers, bigints or strings, one kind per key), as Flink's:
 * `min`/`max` emit the key's first record with the field set to the extremum so far;
 * `minBy`/`maxBy` emit the record holding it (on a tie the earlier one, or the later with `first: false`).
 */
export interface ExtremumVertex { operator: 'min' | 'max' | 'minBy' | 'maxBy'; field: string | number; first?: boolean }
/**
 * Two connected streams (Flink's connect): `fn1` for each record of the edge with `"input": 1`,
 * `fn2` for the edge with `"input": 2`. `coMap` emits each result, `coFlatMap` each element of
 * the returned iterable.
 */
export interface CoMapVertex { operator: 'coMap' | 'coFlatMap'; fn1: UserFunction; fn2: UserFunction }
/**
 * Two connected streams keyed alike (Flink's KeyedCoProcessFunction): both input edges are
 * `hash`, marked `"input": 1` and `2`; `fn1(value, ctx)` or `fn2(value, ctx)`, by the record's
 * input, sees `ctx.key` and the key's state (shared by both inputs) and returns an iterable.
 */
export interface CoProcessVertex { operator: 'coProcess'; fn1: UserFunction; fn2: UserFunction }
/**
 * Which windows a record belongs to. Tumbling (`sizeMs`) and sliding (`sizeMs` every `slideMs`)
 * windows are aligned to the epoch plus `offsetMs`; sessions close after `gapMs` without a
 * record (and merge). They run on event time, or on the Task Manager's clock with
 * `time: "processing"`. A global window holds all of a key's records; only a trigger fires it.
 */
export type WindowAssigner =
  | { type: 'tumbling'; sizeMs: number; offsetMs?: number; time?: WindowTime }
  | { type: 'sliding'; sizeMs: number; slideMs: number; offsetMs?: number; time?: WindowTime }
  | { type: 'session'; gapMs: number; time?: WindowTime }
  | { type: 'global' };

export type WindowTime = 'event' | 'processing';

/** The windows of fixed size, aligned: tumbling and sliding. */
export type FixedWindowAssigner = Extract<WindowAssigner, { sizeMs: number }>;

/**
 * When a window fires instead of at its end (Flink's CountTrigger): each time `count` records
 * came into it since it last fired; `purge` drops its contents as it fires.
 */
export interface CountTrigger { type: 'count'; count: number; purge?: boolean }

/** Keeps only a window's last `count` records (Flink's CountEvictor); the function sees those. */
export interface CountEvictor { type: 'count'; count: number }

/** Built-in window functions: each distinct record, the top n by a field, or all sorted (by event time when `by` is absent). */
export interface WindowBuiltins {
  distinct?: true | { key: KeySelector };
  topN?: { n: number; by: KeySelector; order?: SortOrder };
  sort?: { by?: KeySelector; order?: SortOrder };
}

export type SortOrder = 'asc' | 'desc';

/**
 * Windows (Flink's `keyBy(...).window(...)`, or `windowAll(...)` when its input is not keyed,
 * at parallelism 1): `reduce(a, b)` or `aggregate` as records come, emitting the result when the
 * window fires, or `process(elements, ctx)` over all of them, with `ctx.key` and `ctx.window`
 * ({ start, end }), returning an iterable; or one of the built-ins. Results of time windows carry
 * the timestamp `end - 1`. Records later than `allowedLatenessMs` go to the side output `lateTag`.
 */
export interface WindowVertex extends WindowBuiltins {
  operator: 'window';
  assigner: WindowAssigner;
  trigger?: CountTrigger;
  evictor?: CountEvictor;
  reduce?: UserFunction;
  /** Incremental, as Flink's AggregateFunction: `create()` → accumulator, `add(acc, value)` → acc, `result(acc)` → output. */
  aggregate?: { create: UserFunction; add: UserFunction; result: UserFunction; merge?: UserFunction };
  process?: UserFunction;
  allowedLatenessMs?: number;
  lateTag?: string;
}

/**
 * Two streams keyed alike, joined per window (Flink's `a.join(b).where(..).equalTo(..).window(..)`):
 * `join(left, right)` for each pair of a key's records in the same window, or
 * `coGroup(lefts, rights, ctx)` once per key and window, returning an iterable. Both input edges
 * are `hash`, marked `"input": 1` (left) and `2` (right).
 */
export interface WindowJoinVertex {
  operator: 'windowJoin';
  assigner: WindowAssigner;
  trigger?: CountTrigger;
  join?: UserFunction;
  coGroup?: UserFunction;
  allowedLatenessMs?: number;
}

/**
 * Two streams keyed alike, joined by event time (Flink's interval join): a left record at t
 * meets each right record of its key in [t + lowerMs, t + upperMs]; `fn(left, right, ctx)`
 * returns an iterable. Results carry the later of the two timestamps.
 */
export interface IntervalJoinVertex {
  operator: 'intervalJoin';
  lowerMs: number;
  upperMs: number;
  lowerExclusive?: boolean;
  upperExclusive?: boolean;
  fn: UserFunction;
}

/**
 * Flink's broadcast state pattern: input 1 is the main stream (keyed when its edge is `hash`),
 * input 2 a `broadcast` edge every subtask reads all of. `fn2(rule, ctx)` writes
 * `ctx.broadcastState(name)`; `fn1(value, ctx)` reads it. Both return an iterable.
 */
export interface BroadcastProcessVertex { operator: 'broadcastProcess'; fn1: UserFunction; fn2: UserFunction }

/**
 * Sorts by event time (a bounded out-of-orderness buffer): each record waits until the
 * watermark passes its timestamp. Records already behind the watermark go to `lateTag`, or are dropped.
 */
export interface EventTimeSortVertex { operator: 'eventTimeSort'; lateTag?: string }

/** The records of all its inputs, as they come: Flink's union, as a vertex of its own. */
export interface UnionVertex { operator: 'union' }
export interface SinkPrint { operator: 'sink.print'; prefix?: string }
/** One line per record (strings as they are, other values as JSON); `path` is a file at parallelism 1, else a directory of `part-<subtask>` files. */
export interface SinkTextFile { operator: 'sink.textFile'; path: string }
/** Records are returned to the client with the job's result (bounded jobs; capped in size). */
export interface SinkCollect { operator: 'sink.collect' }
/** Drops every record (Flink's DiscardingSink): for benchmarks, where only the work before it counts. */
export interface SinkDiscard { operator: 'sink.discard' }
/**
 * `fn(value, ctx)` returns an iterable of output records, or nothing. Keyed (a `hash` input):
 * `ctx.key`, `ctx.state` (the key's value, list, map and reducing state, checkpointed) and timers.
 * Not keyed: `ctx.timestamp`, `ctx.output` and the time, as Flink's ProcessFunction.
 */
export interface ProcessVertex {
  operator: 'process';
  fn: UserFunction;
  /** `(timestamp, ctx) => iterable`, called when a timer set with `ctx.timerService` comes due. */
  onTimer?: UserFunction;
}
/** Exactly-once files (two-phase commit): `part-…` files in the directory `path`, committed when a checkpoint completes. */
export interface SinkFile { operator: 'sink.file'; path: string }

// ---- batch (mode "batch") ----------------------------------------------------------------
//
// Blocking operators: each sees all of its bounded input before it emits, sorting or hashing
// it within its share of the slot's memory (`batch.memoryPerSlotMb`) and spilling to local
// disk past it. Grouping operators group by the key of their `hash` input edge; without one,
// each subtask's whole partition is one group.

/** A CSV file, or a directory of them read in parallel; each line a record of the declared fields. */
export interface SourceCsv {
  operator: 'source.csv';
  path: string;
  fields: CsvField[];
  /** The first line of each file names the columns (and is skipped); default false. */
  header?: boolean;
  /** Default ','. */
  delimiter?: string;
}
export interface CsvField { name: string; type: 'string' | 'number' | 'integer' | 'boolean' }
/** A JSON-lines file, or a directory of them; each line a record, checked against `schema` (a JSON Schema) when given. */
export interface SourceJsonLines { operator: 'source.jsonLines'; path: string; schema?: Record<string, unknown> }

/** Per group, `fn(a, b)` down to one record (Flink's GroupReduceFunction on a grouping's reduce). */
export interface BatchReduceVertex { operator: 'batch.reduce'; fn: UserFunction }
/** Per group, `fn(records, key)` → an iterable (Flink's reduceGroup). */
/** With `sortGroup`, each group's records come to `fn` sorted by those keys (Flink's sortGroup). */
export interface BatchReduceGroupVertex { operator: 'batch.reduceGroup'; fn: UserFunction; sortGroup?: SortKey[] }
export type AggregationKind = 'sum' | 'min' | 'max' | 'count' | 'avg';
/** Per group, the group's first record with each field aggregated (Flink's aggregate(SUM, field).and(...)); `count` and `avg` too. */
export interface BatchAggregateVertex { operator: 'batch.aggregate'; aggregations: { kind: AggregationKind; field: string | number }[] }
/** Per group, the record with the smallest (largest) field; the first such on a tie. */
export interface BatchExtremumVertex { operator: 'batch.minBy' | 'batch.maxBy'; field: string | number }
/** Per group, its first `n` records, in input order. */
export interface BatchFirstVertex { operator: 'batch.first'; n: number; sortGroup?: SortKey[] }
/** Each distinct record once (by `key`, or the whole record), the first seen. */
export interface BatchDistinctVertex { operator: 'batch.distinct'; key?: KeySelector }
/** Each subtask's records sorted by `by` (then by the next entries), stable. */
export interface BatchSortPartitionVertex { operator: 'batch.sortPartition'; by: SortKey[] }
export interface SortKey { key: KeySelector; order?: SortOrder }
/** `fn(records)` → an iterable, once per subtask with all of its records. */
export interface BatchMapPartitionVertex { operator: 'batch.mapPartition'; fn: UserFunction }
/**
 * Before a shuffle, pre-reduces each subtask's records per key (a combiner): `fn` as
 * batch.reduce's, or `aggregations` as batch.aggregate's partial ones; emits when its memory is
 * full and at the end.
 */
export interface BatchCombineVertex { operator: 'batch.combine'; key: KeySelector; fn?: UserFunction; aggregations?: { kind: AggregationKind; field: string | number }[] }
export type JoinType = 'inner' | 'left' | 'right' | 'full';
export type JoinStrategy = 'broadcast-hash' | 'repartition-hash' | 'sort-merge';
/**
 * Two inputs joined on `key1` (input 1) = `key2` (input 2): `fn(left, right)` per pair, with
 * null for the missing side of an outer join; without `fn`, the pair [left, right]. The edges
 * partition by the keys (hash), or broadcast input 2 (`broadcast-hash`).
 */
export interface BatchJoinVertex { operator: 'batch.join'; key1: KeySelector; key2: KeySelector; type?: JoinType; strategy?: JoinStrategy; fn?: UserFunction }
/** Per key of either input, `fn(lefts, rights, key)` → an iterable (Flink's coGroup). */
export interface BatchCoGroupVertex { operator: 'batch.coGroup'; key1: KeySelector; key2: KeySelector; fn: UserFunction }
/** Every pair of a record of input 1 and one of input 2 (broadcast): `fn(a, b)`, or [a, b]. */
export interface BatchCrossVertex { operator: 'batch.cross'; fn?: UserFunction }
/** Emits, at its end, a sample of `size` (default 1000) of its records' keys, for a range partitioner: { count, keys }. */
export interface BatchSampleVertex { operator: 'batch.sample'; key: KeySelector; size?: number }
/**
 * Range partitioning (Flink's partitionByRange): records on input 1, every subtask's
 * batch.sample on input 2 (a `broadcast` edge); each record goes out on its `custom` edge to
 * the subtask of its key's range, so that subtask i holds keys up to subtask i + 1's (`order`).
 */
export interface BatchRangePartitionVertex { operator: 'batch.rangePartition'; key: KeySelector; order?: SortOrder }
/** One line per record: the fields in order, quoted as CSV needs. */
export interface SinkCsv { operator: 'sink.csv'; path: string; fields: string[]; header?: boolean; delimiter?: string }
/** One JSON document per line. */
export interface SinkJsonLines { operator: 'sink.jsonLines'; path: string }

export type BatchOperatorSpec =
  | BatchReduceVertex | BatchReduceGroupVertex | BatchAggregateVertex | BatchExtremumVertex | BatchFirstVertex | BatchDistinctVertex
  | BatchSortPartitionVertex | BatchMapPartitionVertex | BatchCombineVertex | BatchJoinVertex | BatchCoGroupVertex | BatchCrossVertex
  | BatchSampleVertex | BatchRangePartitionVertex;

export type OperatorSpec =
  | SourceFromElements | SourceTextFile | SourceGenerator | SourceNexmark
  | MapVertex | FilterVertex | FlatMapVertex | ReduceVertex | SumVertex | ExtremumVertex | ProcessVertex | UnionVertex | CoMapVertex | CoProcessVertex | WindowVertex
  | WindowJoinVertex | IntervalJoinVertex | BroadcastProcessVertex | EventTimeSortVertex
  | SourceCsv | SourceJsonLines | BatchOperatorSpec | SinkCsv | SinkJsonLines
  | SinkPrint | SinkTextFile | SinkCollect | SinkFile | SinkDiscard;

export type OperatorName = OperatorSpec['operator'];

export const OPERATORS: readonly OperatorName[] = [
  'source.elements', 'source.textFile', 'source.generator', 'source.nexmark',
  'map', 'filter', 'flatMap', 'reduce', 'sum', 'min', 'max', 'minBy', 'maxBy', 'process', 'union', 'coMap', 'coFlatMap', 'coProcess', 'window',
  'windowJoin', 'intervalJoin', 'broadcastProcess', 'eventTimeSort',
  'source.csv', 'source.jsonLines',
  'batch.reduce', 'batch.reduceGroup', 'batch.aggregate', 'batch.minBy', 'batch.maxBy', 'batch.first', 'batch.distinct',
  'batch.sortPartition', 'batch.mapPartition', 'batch.combine', 'batch.join', 'batch.coGroup', 'batch.cross', 'batch.sample', 'batch.rangePartition',
  'sink.csv', 'sink.jsonLines',
  'sink.print', 'sink.textFile', 'sink.collect', 'sink.file', 'sink.discard',
];

/**
 * Event time at a source (Flink's WatermarkStrategy.forBoundedOutOfOrderness(...).withIdleness(...)):
 * each record's timestamp, and periodic watermarks that far behind the largest timestamp seen.
 */
export interface WatermarkStrategy {
  /** The record's event time in epoch milliseconds: a field (name or index) or a function. */
  timestamp: KeySelector;
  /** How late a record may come behind the largest timestamp seen; 0 (the default) for ascending timestamps. */
  outOfOrdernessMs?: number;
  /** A source subtask that emitted nothing for this long is idle and stops holding windows back; never when absent. */
  idleTimeoutMs?: number;
  /** How often the source emits its watermark; default 200, Flink's auto-watermark interval. */
  intervalMs?: number;
}

export type VertexDescriptor = OperatorSpec & {
  id: string;
  /** Shown in events and errors; the API uses the user function's name when it has one. */
  name?: string;
  /** Defaults to the job's parallelism. */
  parallelism?: number;
  /** Merged over the job's params; visible to this vertex's functions as `params`. */
  params?: Record<string, unknown>;
  /** Never chained to the vertex before or after it. */
  disableChaining?: boolean;
  /** Not chained to the vertex before it. */
  startNewChain?: boolean;
  /** On a source: timestamps and watermarks (event time). */
  watermarks?: WatermarkStrategy;
};

export interface EdgeDescriptor {
  /** Defaults to `<from>-><to>`. */
  id?: string;
  from: string;
  to: string;
  /** Defaults to `forward` when parallelisms are equal, else `rebalance`. `hash` needs `key`. */
  partition?: Partitioning;
  key?: KeySelector;
  /** Into a two-input operator (coMap, coFlatMap, coProcess, windowJoin, intervalJoin, broadcastProcess): which of its inputs this edge is. */
  input?: 1 | 2;
  /** Carries the `from` vertex's side output of this name (`ctx.output(tag, value)`) instead of its main output. */
  tag?: string;
}

export type CheckpointingMode = 'exactly-once' | 'at-least-once';

/** Periodic checkpoints; without this section the job takes none. */
export interface CheckpointingDescriptor {
  /** Between the starts of two checkpoints; at least 10. */
  intervalMs: number;
  /** A checkpoint not complete by then is aborted; default 60000. */
  timeoutMs?: number;
  /** At least this long from the end of one checkpoint to the start of the next; default 0. */
  minPauseMs?: number;
  /** Default 'exactly-once' (barriers aligned); 'at-least-once' does not align. */
  mode?: CheckpointingMode;
  /** Failed checkpoints in a row that the job tolerates before it fails; default 0. */
  tolerableFailures?: number;
}

export interface ResolvedCheckpointing {
  enabled: boolean;
  /** 0 when checkpointing is disabled. */
  intervalMs: number;
  timeoutMs: number;
  minPauseMs: number;
  mode: CheckpointingMode;
  tolerableFailures: number;
}

/** How a batch job's tasks exchange data: through storage, stage after stage (Flink's ALL_EXCHANGES_BLOCKING), or streamed. */
export type BatchShuffle = 'blocking' | 'pipelined';

export interface JobDescriptor {
  apiVersion: typeof DESCRIPTOR_API_VERSION;
  name: string;
  mode?: 'streaming' | 'batch';
  parallelism?: number;
  maxParallelism?: number;
  params?: Record<string, unknown>;
  /** Chain operators joined by forward edges (default true); see isChained. */
  operatorChaining?: boolean;
  checkpointing?: CheckpointingDescriptor;
  /** Defaults as Flink's: fixed-delay forever, 1 s apart, with checkpointing; none without. */
  restartStrategy?: RestartStrategy;
  /**
   * Mode batch. `memoryPerSlotMb`: the memory each slot gives its blocking operators (sorts,
   * groupings, joins) before they spill to disk; default 128. `shuffle`: 'blocking' (default)
   * stores every exchange between tasks, so the job runs stage by stage and a failed task re-runs
   * alone from its stored inputs; 'pipelined' streams exchanges, and a failure re-runs the job.
   */
  batch?: { memoryPerSlotMb?: number; shuffle?: BatchShuffle };
  vertices: VertexDescriptor[];
  edges: EdgeDescriptor[];
}

/** A validated descriptor with every default filled in; what the Job Manager executes. */
export interface ResolvedEdge extends Required<Omit<EdgeDescriptor, 'key' | 'input' | 'tag'>> { key?: KeySelector; input?: 1 | 2; tag?: string }
export type ResolvedVertex = VertexDescriptor & { name: string; parallelism: number; params: Record<string, unknown> };
export interface ResolvedJob {
  apiVersion: typeof DESCRIPTOR_API_VERSION;
  name: string;
  mode: 'streaming' | 'batch';
  parallelism: number;
  maxParallelism: number;
  params: Record<string, unknown>;
  operatorChaining: boolean;
  checkpointing: ResolvedCheckpointing;
  restartStrategy: RestartStrategy;
  /** Mode batch only. */
  batch?: { memoryPerSlotBytes: number; shuffle: BatchShuffle };
  vertices: ResolvedVertex[];
  edges: ResolvedEdge[];
}

/** One validation problem, with a JSON-pointer-like path into the descriptor (`/vertices/2/fn`). */
export interface DescriptorIssue { path: string; message: string }
