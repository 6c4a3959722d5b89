import { instantiateUserFunction } from '../../../lib/descriptor/udf.ts';
import type { KeySelector, UserFunction } from '../../../lib/descriptor/types.ts';
import { splitsFor, type KeyedStateBackend } from '../../../lib/state/index.ts';
import { exactlyOnceFileSink } from './file-sink.ts';
import type { TaskDeployment } from '../protocol.ts';
import { elementsSource, generatorSource, nexmarkSource, textFileSource } from './sources.ts';
import { coMapLogic, coProcessLogic, extremumLogic, filterLogic, flatMapLogic, mapLogic, reduceLogic, sumLogic, unionLogic } from './transforms.ts';
import { collectSink, discardSink, printSink, textFileSink } from './sinks.ts';
import type { OperatorLogic, UserFn } from './types.ts';
import { windowLogic } from './windows.ts';
import { keyedProcessLogic, type ProcessingTime } from './keyed-process.ts';

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
  const { vertex, subtask } = task;
  const p = vertex.parallelism;
  const where = `vertex '${vertex.id}'`;
  const source = { splits: splitsFor(subtask, p, task.maxParallelism), splitCount: task.maxParallelism };
  const keyedInput = async (input: 1 | 2 = 1): Promise<(record: unknown) => unknown> => {
    const key = task.inputs.find((i) => i.partition === 'hash' && (i.input ?? 1) === input)?.key;
    if (!key) throw new Error(`${vertex.operator} '${vertex.id}' needs a keyed (hash) input`);
    return keySelector(key, vertex.params, `the key of ${where}`);
  };
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
    case 'source.textFile': return textFileSource(vertex.path, source);
    case 'map': return mapLogic(await instantiate(vertex.fn, vertex.params, where));
    case 'filter': return filterLogic(await instantiate(vertex.fn, vertex.params, where));
    case 'flatMap': return flatMapLogic(await instantiate(vertex.fn, vertex.params, where));
    case 'reduce': return reduceLogic(await instantiate(vertex.fn, vertex.params, where), await keyedInput(), keyed!);
    case 'sum': return sumLogic(vertex.field, await keyedInput(), keyed!);
    case 'min': case 'max': case 'minBy': case 'maxBy':
      return extremumLogic(vertex.operator, vertex.field, vertex.first ?? true, await keyedInput(), keyed!);
    case 'union': return unionLogic();
    case 'window': {
      const fn = vertex.reduce !== undefined ? { reduce: await instantiate(vertex.reduce, vertex.params, `${where} reduce`) }
        : vertex.aggregate !== undefined ? {
          aggregate: {
            create: await instantiate(vertex.aggregate.create, vertex.params, `${where} aggregate.create`),
            add: await instantiate(vertex.aggregate.add, vertex.params, `${where} aggregate.add`),
            result: await instantiate(vertex.aggregate.result, vertex.params, `${where} aggregate.result`),
            ...(vertex.aggregate.merge ? { merge: await instantiate(vertex.aggregate.merge, vertex.params, `${where} aggregate.merge`) } : {}),
          },
        }
        : { process: await instantiate(vertex.process!, vertex.params, `${where} process`) };
      return windowLogic({ assigner: vertex.assigner, fn, allowedLatenessMs: vertex.allowedLatenessMs ?? 0, lateTag: vertex.lateTag },
        await keyedInput(), keyed!, vertex.name);
    }
    case 'coProcess':
      return coProcessLogic(
        [await instantiate(vertex.fn1, vertex.params, `${where} fn1`), await instantiate(vertex.fn2, vertex.params, `${where} fn2`)],
        [await keyedInput(1), await keyedInput(2)], keyed!);
    case 'coMap': case 'coFlatMap':
      return coMapLogic(await instantiate(vertex.fn1, vertex.params, `${where} fn1`), await instantiate(vertex.fn2, vertex.params, `${where} fn2`), vertex.operator === 'coFlatMap');
    case 'process': {
      const onTimer = vertex.onTimer === undefined ? undefined : await instantiate(vertex.onTimer, vertex.params, `${where} onTimer`);
      if (!clock) throw new Error(`process '${vertex.id}' needs the instance's clock for its timers`);
      return keyedProcessLogic(await instantiate(vertex.fn, vertex.params, where), onTimer, await keyedInput(), keyed!, clock);
    }
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
