/**
 * The entry point of the DataSet API (Flink's ExecutionEnvironment): bounded sources, and jobs
 * in mode batch. The graph is a StreamExecutionEnvironment's, set to batch, so vertices, edges,
 * the descriptor and submission are the streaming API's own.
 */
import type { JobClient } from '../../client/types.ts';
import type { BatchShuffle, CsvField, JobDescriptor, OperatorSpec } from '../../descriptor/types.ts';
import { CloudflinkError } from '../../errors/index.ts';
import type { RestartStrategy } from '../../restart/index.ts';
import { StreamExecutionEnvironment, type OperatorOptions, type StreamInput, type StreamNode } from '../environment.ts';
import { JobHandle } from '../job-handle.ts';
import { DataSource } from './data-set.ts';
import { delimiter, describe, path } from './keys.ts';

export interface ExecutionEnvironmentOptions {
  parallelism?: number;
  /** Job params, visible in every user function as `params`. */
  params?: Record<string, unknown>;
  /** The memory each slot gives its sorts, groupings and joins before they spill to disk; default 128. */
  memoryPerSlotMb?: number;
  /**
   * 'blocking' (default): tasks exchange data through storage, the job runs stage by stage, and
   * a failed task re-runs alone from its stored inputs. 'pipelined': data streams between
   * running tasks, and a failure re-runs the whole job.
   */
  shuffle?: BatchShuffle;
}

export interface CsvOptions {
  /** The columns, in order, with the type each is converted to. */
  fields: CsvField[];
  /** The first line of each file names the columns and is skipped; default false. */
  header?: boolean;
  /** One character; default ','. */
  delimiter?: string;
}

const CSV_TYPES: readonly CsvField['type'][] = ['string', 'number', 'integer', 'boolean'];

/** The vertex param that carries generateSequence()'s start to its function. */
export const SEQUENCE_FROM_PARAM = 'cloudflink.sequenceFrom';

/** The streaming graph, in mode batch; only the ExecutionEnvironment sees it. */
class BatchGraph extends StreamExecutionEnvironment {
  constructor(client: JobClient | undefined, options: { parallelism?: number; params?: Record<string, unknown> }, batch: { memoryPerSlotMb?: number; shuffle?: BatchShuffle }) {
    super(client, options);
    this.executionMode = 'batch';
    if (batch.memoryPerSlotMb !== undefined || batch.shuffle !== undefined) this.batchSettings = batch;
  }

  override getDescriptor(jobName = 'job'): JobDescriptor {
    const descriptor = super.getDescriptor(jobName);
    // Flink's "No data sinks have been created yet": a batch job without a sink computes nothing anyone sees.
    if (!descriptor.vertices.some((vertex) => vertex.operator.startsWith('sink.'))) {
      throw new CloudflinkError('DESCRIPTOR_INVALID',
        'the job has no sink: end a DataSet with print(), collect(), writeAsText(), writeAsCsv() or writeAsJsonLines() before executing it');
    }
    return descriptor;
  }
}

export class ExecutionEnvironment {
  private readonly graph: BatchGraph;
  /** Vertices that keep the parallelism of another (a combiner, its input's): see mirrorParallelism. */
  private readonly mirrors = new Map<StreamNode, StreamNode[]>();

  constructor(private readonly client?: JobClient, options: ExecutionEnvironmentOptions = {}) {
    const { memoryPerSlotMb, shuffle, ...rest } = options;
    if (memoryPerSlotMb !== undefined && (!Number.isInteger(memoryPerSlotMb) || memoryPerSlotMb < 1)) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `memoryPerSlotMb: expected a whole number of megabytes, at least 1, got ${memoryPerSlotMb}`);
    }
    if (shuffle !== undefined && shuffle !== 'blocking' && shuffle !== 'pipelined') {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `shuffle: expected 'blocking' or 'pipelined', got ${JSON.stringify(shuffle)}`);
    }
    this.graph = new BatchGraph(client, rest, {
      ...(memoryPerSlotMb === undefined ? {} : { memoryPerSlotMb }), ...(shuffle === undefined ? {} : { shuffle }),
    });
  }

  /** Job params, visible in every user function as the free variable `params`. */
  get params(): Record<string, unknown> {
    return this.graph.params;
  }

  /** The default parallelism of every operator that sets none. */
  setParallelism(parallelism: number): this {
    this.graph.setParallelism(parallelism);
    return this;
  }

  getParallelism(): number | undefined {
    return this.graph.getParallelism();
  }

  /** What the Job Manager does when the job fails: a batch job runs again from its inputs. */
  setRestartStrategy(strategy: RestartStrategy): this {
    this.graph.setRestartStrategy(strategy);
    return this;
  }

  getRestartStrategy(): RestartStrategy | undefined {
    return this.graph.getRestartStrategy();
  }

  fromElements<T>(...elements: T[]): DataSource<T> {
    return new DataSource<T>(this, this.graph.fromElements(...elements).node);
  }

  fromCollection<T>(collection: Iterable<T>): DataSource<T> {
    return new DataSource<T>(this, this.graph.fromCollection(collection).node);
  }

  /** One record per line, of a file or of every file in a directory. */
  readTextFile(filePath: string): DataSource<string> {
    return this.source({ operator: 'source.textFile', path: path(filePath, 'readTextFile()') }, 'readTextFile');
  }

  /** A record per line, an object of the declared fields converted to their types; a file or a directory of them. */
  readCsvFile<T = Record<string, unknown>>(filePath: string, options: CsvOptions): DataSource<T> {
    const role = 'readCsvFile()';
    const checkedPath = path(filePath, role);
    const { fields, header } = options ?? ({} as CsvOptions);
    if (!Array.isArray(fields) || fields.length === 0) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: fields must list the columns, at least one, as { name, type }`);
    }
    const names = new Set<string>();
    for (const column of fields) {
      const { name, type } = (column ?? {}) as Partial<CsvField>;
      if (typeof name !== 'string' || name === '') throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: each field needs a non-empty name, got ${describe(name)}`);
      if (names.has(name)) throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: the field '${name}' is declared twice`);
      names.add(name);
      if (!CSV_TYPES.includes(type as CsvField['type'])) {
        throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: the field '${name}' has type ${describe(type)}; use one of: ${CSV_TYPES.join(', ')}`);
      }
    }
    if (header !== undefined && typeof header !== 'boolean') throw new CloudflinkError('DESCRIPTOR_INVALID', `${role}: header must be true or false`);
    const sep = delimiter(options.delimiter, role);
    return this.source({
      operator: 'source.csv', path: checkedPath, fields: fields.map(({ name, type }) => ({ name, type })),
      ...(header === undefined ? {} : { header }), ...(sep === undefined ? {} : { delimiter: sep }),
    }, 'readCsvFile');
  }

  /** A record per line of JSON, of a file or a directory of them; each checked against `schema` (a JSON Schema) when given. */
  readJsonLines<T = unknown>(filePath: string, options: { schema?: Record<string, unknown> } = {}): DataSource<T> {
    const checkedPath = path(filePath, 'readJsonLines()');
    const { schema } = options;
    if (schema !== undefined && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) {
      throw new CloudflinkError('DESCRIPTOR_INVALID', 'readJsonLines(): schema must be a JSON Schema object');
    }
    return this.source({ operator: 'source.jsonLines', path: checkedPath, ...(schema === undefined ? {} : { schema: structuredClone(schema) }) }, 'readJsonLines');
  }

  /** The numbers from `from` to `to`, both included (Flink's generateSequence). */
  generateSequence(from: number, to: number): DataSource<number> {
    for (const [name, value] of [['from', from], ['to', to]] as const) {
      if (!Number.isSafeInteger(value)) throw new CloudflinkError('DESCRIPTOR_INVALID', `generateSequence(): ${name} must be a whole number, got ${describe(value)}`);
    }
    if (to < from) throw new CloudflinkError('DESCRIPTOR_INVALID', `generateSequence(${from}, ${to}): to must be at least from`);
    const count = to - from + 1;
    if (from === 0) return this.source({ operator: 'source.generator', count }, 'generateSequence');
    // Functions travel as text, so the start goes through the vertex's params.
    const source = this.source<number>({ operator: 'source.generator', count, fn: `(index) => params['${SEQUENCE_FROM_PARAM}'] + index` }, 'generateSequence');
    this.graph.configureVertex(source.node, { params: { [SEQUENCE_FROM_PARAM]: from } }, 'generateSequence()');
    return source;
  }

  /** The job descriptor of everything built so far, in mode batch. */
  getDescriptor(jobName = 'job'): JobDescriptor {
    return this.graph.getDescriptor(jobName);
  }

  /** Submits the job; the handle gives its id, events, result (`collected[sink.id]` for collect()) and cancel(). */
  async execute(jobName = 'job'): Promise<JobHandle> {
    if (!this.client) {
      throw new CloudflinkError('CONFIG_INVALID',
        'this ExecutionEnvironment has no JobClient to submit to: construct it with one (new ExecutionEnvironment(client)), ' +
        'or call getDescriptor() to get the job descriptor without running it');
    }
    return this.graph.execute(jobName);
  }

  /** @internal Adds a vertex reading `input` (none for a source). */
  addNode(spec: OperatorSpec, defaultName: string, input?: StreamInput, options?: OperatorOptions): StreamNode {
    return this.graph.addVertex(spec, defaultName, options, input);
  }

  /** @internal Name, parallelism or params of a vertex, checked; a parallelism reaches the vertices that mirror it. */
  configure(node: StreamNode, options: OperatorOptions, role: string): void {
    this.graph.configureVertex(node, options, role);
    if (options.parallelism === undefined) return;
    for (const mirror of this.mirrors.get(node) ?? []) this.configure(mirror, { parallelism: options.parallelism }, role);
  }

  /**
   * @internal `mirror` runs at `of`'s parallelism, now and after any setParallelism(): a
   * combiner or a local pre-aggregation stays on a forward edge from its input.
   */
  mirrorParallelism(of: StreamNode, mirror: StreamNode): void {
    if (of.parallelism !== undefined) this.graph.configureVertex(mirror, { parallelism: of.parallelism }, 'mirrorParallelism()');
    this.mirrors.set(of, [...this.mirrors.get(of) ?? [], mirror]);
  }

  private source<T>(spec: OperatorSpec, defaultName: string): DataSource<T> {
    return new DataSource<T>(this, this.addNode(spec, defaultName));
  }
}
