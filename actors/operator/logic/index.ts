import { instantiateUserFunction } from '../../../lib/descriptor/udf.ts';
import type { KeySelector, UserFunction } from '../../../lib/descriptor/types.ts';
import { splitsFor, type KeyedStateBackend } from '../../../lib/state/index.ts';
import { exactlyOnceFileSink } from './file-sink.ts';
import type { TaskDeployment } from '../protocol.ts';
import { elementsSource, generatorSource, nexmarkSource, textFileSource } from './sources.ts';
import { coMapLogic, coProcessLogic, extremumLogic, filterLogic, flatMapLogic, mapLogic, reduceLogic, sumLogic, unionLogic } from './transforms.ts';
import { collectSink, discardSink, printSink, textFileSink } from './sinks.ts';
import type { OperatorLogic, UserFn } from './types.ts';
import { windowLogic, type WindowFunction } from './windows.ts';
import { windowJoinLogic } from './window-join.ts';
import { intervalJoinLogic } from './interval-join.ts';
import { broadcastProcessLogic } from './broadcast-process.ts';
import { eventTimeSortLogic } from './event-time-sort.ts';
import { batchCombineLogic, batchGroupingLogic } from './batch/grouping.ts';
import { batchCoGroupLogic, batchCrossLogic, batchJoinLogic } from './batch/join.ts';
import { rangePartitionLogic, sampleLogic } from './batch/range.ts';
import { csvSource, directoryTextSource, jsonLinesSource } from './file-sources.ts';
import { csvSink, jsonLinesSink } from './file-sinks.ts';
import { DEFAULT_BATCH_MEMORY_MB } from '../../../lib/descriptor/validate.ts';
import { spillDirectory as spillDirectoryOf } from '../../../lib/batch/spill.ts';
import { rmSync, statSync } from 'node:fs';
import { isBatchOperator } from '../../../lib/descriptor/graph.ts';
import { builtinWindowAggregate } from './window-functions.ts';
import { keyedProcessLogic, processLogic, type ProcessingTime } from './keyed-process.ts';
import type { ResolvedVertex } from '../../../lib/descriptor/types.ts';

export type { Collector, OperatorLogic, UserFn } from './types.ts';

export async function keySelector(key: KeySelector, params: Record<string, unknown>, where: string): Promise<(record: unknown) => unknown> {
  if ('field' in key) {
    const field = key.field;
    return (record) => (record as Record<string | number, unknown> | null | undefined)?.[field];
  }
  return instantiate(key.fn, params, where);
}

async function instantiate(fn: UserFunction, params: Record<string, unknown>, where: string): Promise<UserFn> {
  return (await instantiateUserFunction(fn, params, where)) as UserFn;
}

/** `clock`: processing time, for process functions' timers. */
export async function createOperatorLogic(task: TaskDeployment, keyed?: KeyedStateBackend, clock?: ProcessingTime): Promise<OperatorLogic> {
  const logic = await buildLogic(task, keyed, clock);
  if (!isBatchOperator(task.vertex.operator)) return logic;
  // A batch operator spills into a directory of its own: it goes when the operator closes, whatever the ending.
  const close = logic.close?.bind(logic);
  return Object.assign(logic, {
    close() {
      try {
        close?.();
      } finally {
        rmSync(spillDirectory(task), { recursive: true, force: true });
      }
    },
  });
}

/** Where a batch operator's subtask spills, in this run of it. */
function spillDirectory(task: TaskDeployment): string {
  return spillDirectoryOf({ jobId: task.jobId, attempt: task.attempt, execution: task.execution, vertexId: task.vertex.id, subtask: task.subtask });
}

async function buildLogic(task: TaskDeployment, keyed?: KeyedStateBackend, clock?: ProcessingTime): Promise<OperatorLogic> {
  const { vertex, subtask } = task;
  const p = vertex.parallelism;
  const where = `vertex '${vertex.id}'`;
  const source = { splits: splitsFor(subtask, p, task.maxParallelism), splitCount: task.maxParallelism };
  const keyedBy = (input: 1 | 2) => task.inputs.find((i) => i.partition === 'hash' && (i.input ?? 1) === input)?.key;
  const keyedInput = async (input: 1 | 2 = 1): Promise<(record: unknown) => unknown> => {
    const key = keyedBy(input);
    if (!key) throw new Error(`${vertex.operator} '${vertex.id}' needs a keyed (hash) input`);
    return keySelector(key, vertex.params, `the key of ${where}`);
  };
  const selector = (key: KeySelector, role: string) => keySelector(key, vertex.params, `${where} ${role}`);
  // A batch operator's memory and where it spills: its own directory, which it removes when it closes.
  const resources = () => ({ memoryBytes: task.memoryBytes ?? DEFAULT_BATCH_MEMORY_MB * 1024 * 1024, directory: spillDirectory(task) });
  // Not keyed (windowAll, at parallelism 1): every record under one key, null.
  const optionalKey = async (): Promise<(record: unknown) => unknown> => (keyedBy(1) ? keyedInput() : () => null);
  switch (vertex.operator) {
    case 'source.elements': return elementsSource(vertex.elements, source);
    case 'source.generator': {
      const fn = vertex.fn ? await instantiate(vertex.fn, vertex.params, where) : undefined;
      // Each subtask takes its share of the rate.
      const rate = vertex.ratePerSecond === undefined ? undefined : vertex.ratePerSecond / p;
      return generatorSource(vertex.count, fn, source, rate);
    }
    case 'source.nexmark': {
      const rate = vertex.ratePerSecond === undefined ? undefined : vertex.ratePerSecond / p;
      return nexmarkSource(vertex.events, vertex.config, source, rate);
    }
    case 'source.textFile': return isDirectory(vertex.path) ? directoryTextSource(vertex.path, source, vertex.name) : textFileSource(vertex.path, source);
    case 'source.csv': return csvSource(vertex, source, vertex.name);
    case 'source.jsonLines': return jsonLinesSource(vertex, source, vertex.name);
    case 'map': return mapLogic(await instantiate(vertex.fn, vertex.params, where));
    case 'filter': return filterLogic(await instantiate(vertex.fn, vertex.params, where));
    case 'flatMap': return flatMapLogic(await instantiate(vertex.fn, vertex.params, where));
    case 'reduce': return reduceLogic(await instantiate(vertex.fn, vertex.params, where), await keyedInput(), keyed!);
    case 'sum': return sumLogic(vertex.field, await keyedInput(), keyed!);
    case 'min': case 'max': case 'minBy': case 'maxBy':
      return extremumLogic(vertex.operator, vertex.field, vertex.first ?? true, await keyedInput(), keyed!);
    case 'union': return unionLogic();
    case 'window': {
      const settings = { assigner: vertex.assigner, allowedLatenessMs: vertex.allowedLatenessMs ?? 0, lateTag: vertex.lateTag, trigger: vertex.trigger, evictor: vertex.evictor };
      return windowLogic({ ...settings, fn: await windowFunction(vertex, where) }, await optionalKey(), keyed!, vertex.name, clock);
    }
    case 'windowJoin': {
      const fn = vertex.join !== undefined ? { join: await instantiate(vertex.join, vertex.params, `${where} join`) }
        : { coGroup: await instantiate(vertex.coGroup!, vertex.params, `${where} coGroup`) };
      return windowJoinLogic({ assigner: vertex.assigner, fn, allowedLatenessMs: vertex.allowedLatenessMs ?? 0, trigger: vertex.trigger },
        [await keyedInput(1), await keyedInput(2)], keyed!, vertex.name, clock);
    }
    case 'intervalJoin': {
      const { lowerMs, upperMs, lowerExclusive, upperExclusive } = vertex;
      return intervalJoinLogic({ lowerMs, upperMs, lowerExclusive, upperExclusive }, await instantiate(vertex.fn, vertex.params, where),
        [await keyedInput(1), await keyedInput(2)], keyed!, vertex.name);
    }
    case 'broadcastProcess': {
      const [fn1, fn2] = [await instantiate(vertex.fn1, vertex.params, `${where} fn1`), await instantiate(vertex.fn2, vertex.params, `${where} fn2`)];
      return keyedBy(1) ? broadcastProcessLogic(fn1, fn2, await keyedInput(1), keyed!, vertex.name) : broadcastProcessLogic(fn1, fn2, undefined, undefined, vertex.name);
    }
    case 'eventTimeSort': return eventTimeSortLogic({ lateTag: vertex.lateTag, subtask, parallelism: p }, vertex.name);
    case 'coProcess':
      return coProcessLogic(
        [await instantiate(vertex.fn1, vertex.params, `${where} fn1`), await instantiate(vertex.fn2, vertex.params, `${where} fn2`)],
        [await keyedInput(1), await keyedInput(2)], keyed!);
    case 'coMap': case 'coFlatMap':
      return coMapLogic(await instantiate(vertex.fn1, vertex.params, `${where} fn1`), await instantiate(vertex.fn2, vertex.params, `${where} fn2`), vertex.operator === 'coFlatMap');
    case 'process': {
      if (!clock) throw new Error(`process '${vertex.id}' needs the instance's clock for its timers`);
      const fn = await instantiate(vertex.fn, vertex.params, where);
      if (!keyedBy(1)) return processLogic(fn, clock);
      const onTimer = vertex.onTimer === undefined ? undefined : await instantiate(vertex.onTimer, vertex.params, `${where} onTimer`);
      return keyedProcessLogic(fn, onTimer, await keyedInput(), keyed!, clock);
    }
    case 'batch.reduce': case 'batch.reduceGroup': case 'batch.aggregate': case 'batch.minBy': case 'batch.maxBy': case 'batch.first':
    case 'batch.distinct': case 'batch.sortPartition': case 'batch.mapPartition': {
      const fn = 'fn' in vertex ? await instantiate(vertex.fn, vertex.params, where) : undefined;
      // distinct is by its own key (the whole record without one); the others group by their hash input's.
      const key = vertex.operator === 'batch.distinct' ? (vertex.key ? await selector(vertex.key, 'distinct key') : undefined)
        : keyedBy(1) ? await keyedInput() : undefined;
      const by = vertex.operator === 'batch.sortPartition' ? vertex.by
        : vertex.operator === 'batch.reduceGroup' || vertex.operator === 'batch.first' ? vertex.sortGroup : undefined;
      const sortKeys = by && await Promise.all(by.map(async ({ key: k, order }) => ({ key: await selector(k, 'sort key'), order: order ?? 'asc' as const })));
      return batchGroupingLogic(vertex, { fn, key, sortKeys }, resources(), vertex.name);
    }
    case 'batch.combine': {
      const fn = vertex.fn === undefined ? undefined : await instantiate(vertex.fn, vertex.params, where);
      return batchCombineLogic(vertex, { fn, key: await selector(vertex.key, 'key') }, resources(), vertex.name);
    }
    case 'batch.join': {
      const fn = vertex.fn === undefined ? undefined : await instantiate(vertex.fn, vertex.params, where);
      return batchJoinLogic({ type: vertex.type ?? 'inner', strategy: vertex.strategy ?? 'sort-merge' },
        { key1: await selector(vertex.key1, 'key1'), key2: await selector(vertex.key2, 'key2'), fn }, resources(), vertex.name);
    }
    case 'batch.coGroup':
      return batchCoGroupLogic({ key1: await selector(vertex.key1, 'key1'), key2: await selector(vertex.key2, 'key2'), fn: await instantiate(vertex.fn, vertex.params, where) },
        resources(), vertex.name);
    case 'batch.cross':
      return batchCrossLogic({ fn: vertex.fn === undefined ? undefined : await instantiate(vertex.fn, vertex.params, where) }, resources(), vertex.name);
    case 'batch.sample': return sampleLogic(await selector(vertex.key, 'key'), vertex.size ?? 1000, subtask + 1);
    case 'batch.rangePartition': return rangePartitionLogic(await selector(vertex.key, 'key'), vertex.order ?? 'asc', resources(), vertex.name);
    case 'sink.csv': return csvSink(vertex, subtask, p, vertex.name);
    case 'sink.jsonLines': return jsonLinesSink(vertex, subtask, p, vertex.name);
    case 'sink.print': return printSink(vertex.prefix, subtask, p);
    case 'sink.textFile': return textFileSink(vertex.path, subtask, p);
    case 'sink.collect': return collectSink(task.collectLimit, vertex.name);
    case 'sink.discard': return discardSink();
    case 'sink.file': return exactlyOnceFileSink(vertex.path, { subtask, parallelism: p, jobId: task.jobId, attempt: task.attempt, restoredJobId: task.restore?.jobId });
    default: {
      const never: never = vertex;
      throw new Error(`unknown operator ${JSON.stringify((never as { operator: string }).operator)}`);
    }
  }
}

/** A window's function, from whichever of its forms the vertex has. */
async function windowFunction(vertex: Extract<ResolvedVertex, { operator: 'window' }>, where: string): Promise<WindowFunction> {
  const { params } = vertex;
  const process = vertex.process === undefined ? undefined : await instantiate(vertex.process, params, `${where} process`);
  // With a reduce or an aggregate, the process function gets its result (incremental aggregation).
  const withResult = process === undefined ? {} : { processResult: process };
  if (vertex.reduce !== undefined) return { reduce: await instantiate(vertex.reduce, params, `${where} reduce`), ...withResult };
  if (vertex.aggregate !== undefined) {
    const { create, add, result, merge } = vertex.aggregate;
    return {
      aggregate: {
        create: await instantiate(create, params, `${where} aggregate.create`),
        add: await instantiate(add, params, `${where} aggregate.add`),
        result: await instantiate(result, params, `${where} aggregate.result`),
        ...(merge ? { merge: await instantiate(merge, params, `${where} aggregate.merge`) } : {}),
      },
      ...withResult,
    };
  }
  if (process !== undefined) return { process };
  const selector = (key: KeySelector, role: string) => keySelector(key, params, `${where} ${role}`);
  const builtin = vertex.distinct !== undefined
    ? { distinct: vertex.distinct === true ? true as const : { key: await selector(vertex.distinct.key, 'distinct key') } }
    : vertex.topN !== undefined
      ? { topN: { n: vertex.topN.n, by: await selector(vertex.topN.by, 'topN by'), order: vertex.topN.order ?? 'desc' } }
      : { sort: { ...(vertex.sort!.by ? { by: await selector(vertex.sort!.by, 'sort by') } : {}), order: vertex.sort!.order ?? 'asc' } };
  return { aggregate: builtinWindowAggregate(builtin, vertex.name), many: true };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    // Missing: the file source says so when it opens it.
    return false;
  }
}
