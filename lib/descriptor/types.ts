/**
 * The job descriptor: the versioned document a client submits on `<p>.jobs.submit`.
 * Its JSON Schema is config/descriptor.schema.json; keep the two in step.
 */

export const DESCRIPTOR_API_VERSION = 'cloudflink/v1';

/**
 * A user function: JavaScript source text of a function expression
 * (`"(line) => line.split(' ')"`), or a module installed on the Task Manager hosts.
 * Source text is evaluated with `params` in scope; closures over other variables are not shipped.
 */
export type UserFunction = string | { module: string; export?: string };

export type Partitioning = 'forward' | 'rebalance' | 'hash' | 'broadcast';

/** A key: a field name or array index of the record, or a key-selector function. */
export type KeySelector = { field: string | number } | { fn: UserFunction };

export interface SourceFromElements { operator: 'source.elements'; elements: unknown[] }
export interface SourceTextFile { operator: 'source.textFile'; path: string }
/** Emits `fn(index)` for index in [0, count); deterministic, so it can be replayed. */
export interface SourceGenerator { operator: 'source.generator'; count: number; fn?: UserFunction }
export interface MapVertex { operator: 'map'; fn: UserFunction }
export interface FilterVertex { operator: 'filter'; fn: UserFunction }
/** `fn` returns an iterable (usually an array) of output records. */
export interface FlatMapVertex { operator: 'flatMap'; fn: UserFunction }
/** Keyed: the key comes from the vertex's single `hash` input edge. Emits the running result per record. */
export interface ReduceVertex { operator: 'reduce'; fn: UserFunction }
/** Keyed: a running sum of `field` per key; the other fields are those of the first record of the key. */
export interface SumVertex { operator: 'sum'; field: string | number }
export interface SinkPrint { operator: 'sink.print'; prefix?: string }
/** One line per record (strings as they are, other values as JSON); `path` is a file at parallelism 1, else a directory of `part-<subtask>` files. */
export interface SinkTextFile { operator: 'sink.textFile'; path: string }
/** Records are returned to the client with the job's result (bounded jobs; capped in size). */
export interface SinkCollect { operator: 'sink.collect' }

export type OperatorSpec =
  | SourceFromElements | SourceTextFile | SourceGenerator
  | MapVertex | FilterVertex | FlatMapVertex | ReduceVertex | SumVertex
  | SinkPrint | SinkTextFile | SinkCollect;

export type OperatorName = OperatorSpec['operator'];

export const OPERATORS: readonly OperatorName[] = [
  'source.elements', 'source.textFile', 'source.generator',
  'map', 'filter', 'flatMap', 'reduce', 'sum',
  'sink.print', 'sink.textFile', 'sink.collect',
];

export type VertexDescriptor = OperatorSpec & {
  id: string;
  /** Shown in events and errors; the API uses the user function's name when it has one. */
  name?: string;
  /** Defaults to the job's parallelism. */
  parallelism?: number;
  /** Merged over the job's params; visible to this vertex's functions as `params`. */
  params?: Record<string, unknown>;
};

export interface EdgeDescriptor {
  /** Defaults to `<from>-><to>`. */
  id?: string;
  from: string;
  to: string;
  /** Defaults to `forward` when parallelisms are equal, else `rebalance`. `hash` needs `key`. */
  partition?: Partitioning;
  key?: KeySelector;
}

export interface JobDescriptor {
  apiVersion: typeof DESCRIPTOR_API_VERSION;
  name: string;
  mode?: 'streaming' | 'batch';
  parallelism?: number;
  maxParallelism?: number;
  params?: Record<string, unknown>;
  vertices: VertexDescriptor[];
  edges: EdgeDescriptor[];
}

/** A validated descriptor with every default filled in; what the Job Manager executes. */
export interface ResolvedEdge extends Required<Omit<EdgeDescriptor, 'key'>> { key?: KeySelector }
export type ResolvedVertex = VertexDescriptor & { name: string; parallelism: number; params: Record<string, unknown> };
export interface ResolvedJob {
  apiVersion: typeof DESCRIPTOR_API_VERSION;
  name: string;
  mode: 'streaming' | 'batch';
  parallelism: number;
  maxParallelism: number;
  params: Record<string, unknown>;
  vertices: ResolvedVertex[];
  edges: ResolvedEdge[];
}

/** One validation problem, with a JSON-pointer-like path into the descriptor (`/vertices/2/fn`). */
export interface DescriptorIssue { path: string; message: string }
