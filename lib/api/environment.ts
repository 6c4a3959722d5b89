/**
 * The entry point of the DataStream API: holds the job's settings and the graph the
 * streams build, turns it into a job descriptor, and submits it through a JobClient.
 */
import type { JobClient } from '../client/types.ts';
import {
  DESCRIPTOR_API_VERSION,
  type CheckpointingDescriptor, type CheckpointingMode, type EdgeDescriptor, type JobDescriptor, type KeySelector,
  type OperatorSpec, type Partitioning, type VertexDescriptor, type WatermarkStrategy,
  type BatchShuffle,
} from '../descriptor/types.ts';
import {
  DEFAULT_CHECKPOINT_MIN_PAUSE_MS, DEFAULT_CHECKPOINT_TIMEOUT_MS, DEFAULT_PARALLELISM, DEFAULT_TOLERABLE_CHECKPOINT_FAILURES,
} from '../descriptor/validate.ts';
import { CloudflinkError } from '../errors/index.ts';
import { resolveNexmarkConfig, type NexmarkConfig, type NexmarkEvent } from '../nexmark/index.ts';
import { RESTART_STRATEGY_TYPES, type RestartStrategy } from '../restart/index.ts';
import { captureFunction, type FunctionRef } from './capture.ts';
import { SingleOutputStreamOperator } from './data-stream.ts';
import { JobHandle } from './job-handle.ts';

export interface EnvironmentOptions {
  parallelism?: number;
  maxParallelism?: number;
  /** Job params, visible in every user function as `params`. */
  params?: Record<string, unknown>;
}

/** Per-operator settings, accepted as the last argument of sources, transformations and sinks. */
export interface GeneratorOptions extends OperatorOptions {
  /** At most this many records per second, over all subtasks. */
  ratePerSecond?: number;
}

export interface OperatorOptions {
  name?: string;
  parallelism?: number;
  /** Merged over the job's params for this operator's functions. */
  params?: Record<string, unknown>;
  /** The vertex id; defaults to `<operator>-<n>`. */
  uid?: string;
}

/** Where a vertex's operator chain may begin and end (see `disableChaining()`, `startNewChain()`). */
export type ChainingSetting = 'disableChaining' | 'startNewChain';

/** One vertex of the graph being built. Its input points at the node, not its id, so `uid()` may come later. */
export interface StreamNode {
  id: string;
  name: string;
  spec: OperatorSpec;
  parallelism?: number;
  params?: Record<string, unknown>;
  chaining?: ChainingSetting;
  watermarks?: WatermarkStrategy;
  input?: StreamInput;
  /** A union's other inputs. */
  moreInputs?: StreamInput[];
}

/** The edge into a node; without `partition`, forward or rebalance is chosen from the parallelisms. */
export interface StreamInput { node: StreamNode; partition?: Partitioning; key?: KeySelector; input?: 1 | 2; tag?: string }

const VERTEX_ID = /^[A-Za-z0-9_-]+$/;

const CHECKPOINTING_MODES: readonly CheckpointingMode[] = ['exactly-once', 'at-least-once'];

/**
 * Checkpointing settings, named as Flink's CheckpointConfig; `env.getCheckpointConfig()` returns the
 * environment's own. Only what was set goes into the descriptor: the Job Manager fills in the defaults.
 */
export class CheckpointConfig {
  private intervalMs?: number;
  private mode: CheckpointingMode = 'exactly-once';
  private timeoutMs?: number;
  private minPauseMs?: number;
  private tolerableFailures?: number;

  isCheckpointingEnabled(): boolean {
    return this.intervalMs !== undefined;
  }

  /** Milliseconds between the starts of two checkpoints; -1 while checkpointing is disabled, as in Flink. */
  getCheckpointInterval(): number {
    return this.intervalMs ?? -1;
  }

  /** Enables checkpointing, every `intervalMs` (at least 10). */
  setCheckpointInterval(intervalMs: number): this {
    this.intervalMs = wholeMs(intervalMs, 10, 'setCheckpointInterval()');
    return this;
  }

  getCheckpointingMode(): CheckpointingMode {
    return this.mode;
  }

  setCheckpointingMode(mode: CheckpointingMode): this {
    if (!CHECKPOINTING_MODES.includes(mode)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID',
        `setCheckpointingMode(): unknown mode ${JSON.stringify(mode)}; use one of: ${CHECKPOINTING_MODES.join(', ')}`);
    }
    this.mode = mode;
    return this;
  }

  getCheckpointTimeout(): number {
    return this.timeoutMs ?? DEFAULT_CHECKPOINT_TIMEOUT_MS;
  }

  /** A checkpoint not complete this long after it started is aborted. */
  setCheckpointTimeout(timeoutMs: number): this {
    this.timeoutMs = wholeMs(timeoutMs, 10, 'setCheckpointTimeout()');
    return this;
  }

  getMinPauseBetweenCheckpoints(): number {
    return this.minPauseMs ?? DEFAULT_CHECKPOINT_MIN_PAUSE_MS;
  }

  /** At least this long from the end of one checkpoint to the start of the next. */
  setMinPauseBetweenCheckpoints(minPauseMs: number): this {
    this.minPauseMs = wholeMs(minPauseMs, 0, 'setMinPauseBetweenCheckpoints()');
    return this;
  }

  getTolerableCheckpointFailureNumber(): number {
    return this.tolerableFailures ?? DEFAULT_TOLERABLE_CHECKPOINT_FAILURES;
  }

  /** Failed checkpoints in a row that the job tolerates; one more fails the job. */
  setTolerableCheckpointFailureNumber(failures: number): this {
    if (!Number.isInteger(failures) || failures < 0) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `setTolerableCheckpointFailureNumber(): expected a non-negative integer, got ${failures}`);
    }
    this.tolerableFailures = failures;
    return this;
  }

  /** @internal The descriptor's `checkpointing` section; undefined while disabled. */
  toDescriptor(): CheckpointingDescriptor | undefined {
    if (this.intervalMs === undefined) return undefined;
    return {
      intervalMs: this.intervalMs,
      mode: this.mode,
      ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }),
      ...(this.minPauseMs === undefined ? {} : { minPauseMs: this.minPauseMs }),
      ...(this.tolerableFailures === undefined ? {} : { tolerableFailures: this.tolerableFailures }),
    };
  }
}

export class StreamExecutionEnvironment {
  /** Job params, visible in every user function as the free variable `params`. */
  readonly params: Record<string, unknown>;
  private parallelism?: number;
  private maxParallelism?: number;
  private readonly checkpointConfig = new CheckpointConfig();
  private restartStrategy?: RestartStrategy;
  private operatorChaining = true;
  private readonly nodes: StreamNode[] = [];
  private vertexCount = 0;
  /** The batch ExecutionEnvironment builds on this one: its jobs run in mode batch. */
  protected executionMode: 'streaming' | 'batch' = 'streaming';
  protected batchSettings?: { memoryPerSlotMb?: number; shuffle?: BatchShuffle };

  constructor(private readonly client?: JobClient, options: EnvironmentOptions = {}) {
    if (options.parallelism !== undefined) this.setParallelism(options.parallelism);
    if (options.maxParallelism !== undefined) this.setMaxParallelism(options.maxParallelism);
    this.params = { ...options.params };
  }

  /** The default parallelism of every operator that sets none. */
  setParallelism(parallelism: number): this {
    this.parallelism = positiveInteger(parallelism, 'setParallelism()');
    return this;
  }

  getParallelism(): number | undefined {
    return this.parallelism;
  }

  /** The number of key groups: the most a keyed operator can ever be scaled to. */
  setMaxParallelism(maxParallelism: number): this {
    this.maxParallelism = positiveInteger(maxParallelism, 'setMaxParallelism()');
    return this;
  }

  getMaxParallelism(): number | undefined {
    return this.maxParallelism;
  }

  /**
   * Runs every operator as its own link: records cross a frame between any two, even on a
   * forward edge. Chaining (the default) passes them by function call; this is for debugging
   * and for measuring what chaining saves.
   */
  disableOperatorChaining(): this {
    this.operatorChaining = false;
    return this;
  }

  /** Takes a checkpoint every `intervalMs` (at least 10), which a failed job restarts from. */
  enableCheckpointing(intervalMs: number, mode: CheckpointingMode = 'exactly-once'): this {
    this.checkpointConfig.setCheckpointInterval(intervalMs).setCheckpointingMode(mode);
    return this;
  }

  /** The checkpointing settings, to read or change (timeout, minimum pause, tolerable failures). */
  getCheckpointConfig(): CheckpointConfig {
    return this.checkpointConfig;
  }

  /**
   * What the Job Manager does when the job fails. Without one, Flink's default applies: with
   * checkpointing, fixed-delay forever 1 s apart; without, none.
   */
  setRestartStrategy(strategy: RestartStrategy): this {
    this.restartStrategy = checkRestartStrategy(strategy);
    return this;
  }

  getRestartStrategy(): RestartStrategy | undefined {
    return this.restartStrategy === undefined ? undefined : { ...this.restartStrategy };
  }

  fromElements<T>(...elements: T[]): SingleOutputStreamOperator<T> {
    return this.source({ operator: 'source.elements', elements: [...elements] });
  }

  fromCollection<T>(collection: Iterable<T>, options?: OperatorOptions): SingleOutputStreamOperator<T> {
    if (collection === null || typeof collection !== 'object' || !(Symbol.iterator in collection)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'fromCollection() expects an array or another iterable');
    }
    return this.source({ operator: 'source.elements', elements: Array.from(collection) }, options);
  }

  /** One record per line. */
  readTextFile(path: string, options?: OperatorOptions): SingleOutputStreamOperator<string> {
    return this.source({ operator: 'source.textFile', path: nonEmptyPath(path, 'readTextFile') }, options);
  }

  /** Emits `fn(index)`, or the index itself, for index in [0, count); deterministic, so it can be replayed. */
  /** `options.ratePerSecond` paces the generator (over all its subtasks), for a steady input rate. */
  generate(count: number, fn?: undefined, options?: GeneratorOptions): SingleOutputStreamOperator<number>;
  generate<T>(count: number, fn: ((index: number) => T) | FunctionRef, options?: GeneratorOptions): SingleOutputStreamOperator<T>;
  generate<T>(count: number, fn?: ((index: number) => T) | FunctionRef, options: GeneratorOptions = {}): SingleOutputStreamOperator<T | number> {
    if (!Number.isInteger(count) || count < 0) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `generate(${count}): count must be a non-negative integer`);
    }
    const { ratePerSecond, ...operatorOptions } = options;
    if (ratePerSecond !== undefined && !(ratePerSecond > 0)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `generate(): ratePerSecond must be a positive number, got ${ratePerSecond}`);
    }
    const pace = ratePerSecond === undefined ? {} : { ratePerSecond };
    if (fn === undefined) return this.source({ operator: 'source.generator', count, ...pace }, operatorOptions);
    const captured = captureFunction(fn, 'generate()');
    return this.source({ operator: 'source.generator', count, fn: captured.fn, ...pace }, operatorOptions, captured.name);
  }

  /**
   * The Nexmark benchmark's events for event numbers [0, events): Person, Auction and Bid in
   * proportion 1:3:46, as the reference generator makes them; deterministic, at any parallelism.
   * `config` sets the generator (event rate of the timestamps, hot ratios, …), `ratePerSecond`
   * paces the emission (over all subtasks).
   */
  nexmark(events: number, options: OperatorOptions & { config?: NexmarkConfig; ratePerSecond?: number } = {}): SingleOutputStreamOperator<NexmarkEvent> {
    if (!Number.isInteger(events) || events < 0) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `nexmark(${events}): the number of events must be a non-negative integer`);
    }
    const { config, ratePerSecond, ...operatorOptions } = options;
    if (ratePerSecond !== undefined && !(ratePerSecond > 0)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `nexmark(): ratePerSecond must be a positive number, got ${ratePerSecond}`);
    }
    // Found out here, with the field named, rather than when the Job Manager validates.
    if (config !== undefined) resolveNexmarkConfig(config);
    return this.source({
      operator: 'source.nexmark', events,
      ...(config === undefined ? {} : { config: { ...config } }),
      ...(ratePerSecond === undefined ? {} : { ratePerSecond }),
    }, { name: 'nexmark', ...operatorOptions });
  }

  /** The job descriptor of everything built so far. */
  getDescriptor(jobName = 'job'): JobDescriptor {
    if (typeof jobName !== 'string' || jobName === '') {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'the job name must be a non-empty string');
    }
    if (this.nodes.length === 0) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'the job has no operators: add a source (e.g. env.fromElements(...)) and a sink (e.g. .print()) first');
    }
    const checkpointing = this.checkpointConfig.toDescriptor();
    return {
      apiVersion: DESCRIPTOR_API_VERSION,
      name: jobName,
      mode: this.executionMode,
      ...(this.batchSettings === undefined ? {} : { batch: { ...this.batchSettings } }),
      ...(this.parallelism === undefined ? {} : { parallelism: this.parallelism }),
      ...(this.maxParallelism === undefined ? {} : { maxParallelism: this.maxParallelism }),
      params: { ...this.params },
      ...(this.operatorChaining ? {} : { operatorChaining: false }),
      ...(checkpointing === undefined ? {} : { checkpointing }),
      ...(this.restartStrategy === undefined ? {} : { restartStrategy: { ...this.restartStrategy } }),
      vertices: this.nodes.map((node) => this.vertexOf(node)),
      edges: distinctEdgeIds(this.nodes.flatMap((node) => [node.input, ...node.moreInputs ?? []].flatMap((input) => (input ? [this.edgeInto(node, input)] : [])))),
    };
  }

  /** Submits the job; the handle gives its id, events, result and cancel(). */
  async execute(jobName = 'job'): Promise<JobHandle> {
    if (!this.client) {
      throw new CloudflinkError('CONFIG_INVALID',
        'this StreamExecutionEnvironment has no JobClient to submit to: construct it with one ' +
        '(new StreamExecutionEnvironment(client)), or call getDescriptor() to get the job descriptor without running it');
    }
    const descriptor = this.getDescriptor(jobName);
    const jobId = await this.client.submit(descriptor);
    return new JobHandle(this.client, jobId, descriptor.name);
  }

  /** @internal Adds a vertex; streams call this, users call sources and transformations. */
  addVertex(spec: OperatorSpec, defaultName: string, options: OperatorOptions = {}, input?: StreamInput): StreamNode {
    this.vertexCount++;
    let id = `${spec.operator.replace(/\./g, '-')}-${this.vertexCount}`;
    // An earlier uid() may have taken the id this vertex would get.
    while (this.nodes.some((node) => node.id === id)) id = `${id}_`;
    const node: StreamNode = { id, name: defaultName, spec, input };
    this.configureVertex(node, options, `${spec.operator}()`);
    this.nodes.push(node);
    return node;
  }

  /** @internal Applies per-operator settings, checking each. */
  configureVertex(node: StreamNode, options: OperatorOptions, role: string): void {
    if (options.uid !== undefined) {
      if (typeof options.uid !== 'string' || !VERTEX_ID.test(options.uid)) {
        throw new CloudflinkError('DESCRIPTOR_INVALID',
          `${role}: uid ${JSON.stringify(options.uid)} is not a valid vertex id; use letters, digits, '_' and '-' only`);
      }
      const holder = this.nodes.find((other) => other.id === options.uid);
      if (holder && holder !== node) {
        throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: uid '${options.uid}' is already the id of another vertex (${holder.name})`);
      }
      node.id = options.uid;
    }
    if (options.name !== undefined) {
      if (typeof options.name !== 'string' || options.name === '') {
        throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: the name must be a non-empty string`);
      }
      node.name = options.name;
    }
    if (options.parallelism !== undefined) node.parallelism = positiveInteger(options.parallelism, `${role}: the parallelism`);
    if (options.params !== undefined) {
      if (typeof options.params !== 'object' || options.params === null || Array.isArray(options.params)) {
        throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: params must be an object`);
      }
      node.params = { ...node.params, ...options.params };
    }
  }

  private source<T>(spec: OperatorSpec, options?: OperatorOptions, fnName?: string): SingleOutputStreamOperator<T> {
    return new SingleOutputStreamOperator<T>(this, this.addVertex(spec, fnName ?? spec.operator, options));
  }

  private vertexOf(node: StreamNode): VertexDescriptor {
    const vertex: VertexDescriptor = { id: node.id, name: node.name, ...copySpec(node.spec) };
    if (node.parallelism !== undefined) vertex.parallelism = node.parallelism;
    if (node.params !== undefined) vertex.params = { ...node.params };
    if (node.chaining !== undefined) vertex[node.chaining] = true;
    if (node.watermarks !== undefined) vertex.watermarks = { ...node.watermarks };
    return vertex;
  }

  private edgeInto(node: StreamNode, input: StreamInput): EdgeDescriptor {
    const edge: EdgeDescriptor = { from: input.node.id, to: node.id, partition: input.partition ?? this.defaultPartition(input.node, node) };
    if (input.key !== undefined) edge.key = input.key;
    if (input.input !== undefined) edge.input = input.input;
    if (input.tag !== undefined) edge.tag = input.tag;
    return edge;
  }

  // The rule the Job Manager applies, made explicit: equal parallelisms forward (and chain), others rebalance.
  private defaultPartition(from: StreamNode, to: StreamNode): Partitioning {
    const jobParallelism = this.parallelism ?? DEFAULT_PARALLELISM;
    return (from.parallelism ?? jobParallelism) === (to.parallelism ?? jobParallelism) ? 'forward' : 'rebalance';
  }
}

/** A stream connected or unioned with itself makes two edges between the same vertices: the second gets an id of its own. */
function distinctEdgeIds(edges: EdgeDescriptor[]): EdgeDescriptor[] {
  const seen = new Map<string, number>();
  for (const edge of edges) {
    const id = `${edge.from}->${edge.to}`;
    const count = (seen.get(id) ?? 0) + 1;
    seen.set(id, count);
    if (count > 1) edge.id = `${edge.from}_${edge.to}_${count}`;
  }
  return edges;
}

function copySpec(spec: OperatorSpec): OperatorSpec {
  return spec.operator === 'source.elements' ? { ...spec, elements: [...spec.elements] } : { ...spec };
}

function positiveInteger(n: number, role: string): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: expected a positive integer, got ${n}`);
  }
  return n;
}

function wholeMs(ms: number, minimum: number, role: string): number {
  if (!Number.isInteger(ms) || ms < minimum) {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: expected a whole number of milliseconds, at least ${minimum}, got ${ms}`);
  }
  return ms;
}

// The shape only; the limits of each number are checked with the whole descriptor on submission.
function checkRestartStrategy(strategy: RestartStrategy): RestartStrategy {
  const type = (strategy as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !(RESTART_STRATEGY_TYPES as readonly string[]).includes(type)) {
    throw new CloudflinkError('DESCRIPTOR_INVALID',
      `setRestartStrategy(): unknown strategy type ${JSON.stringify(type)}; use one of: ${RESTART_STRATEGY_TYPES.join(', ')}`);
  }
  for (const [field, value] of Object.entries(strategy)) {
    if (field !== 'type' && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `setRestartStrategy(): ${field} must be a non-negative number, got ${String(value)}`);
    }
  }
  return { ...strategy };
}

function nonEmptyPath(path: string, role: string): string {
  if (typeof path !== 'string' || path === '') {
    throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}() expects a non-empty path`);
  }
  return path;
}
