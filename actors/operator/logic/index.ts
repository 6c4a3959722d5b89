import { instantiateUserFunction } from '../../../lib/descriptor/udf.ts';
import type { KeySelector, UserFunction } from '../../../lib/descriptor/types.ts';
import type { TaskDeployment } from '../protocol.ts';
import { elementsSource, generatorSource, textFileSource } from './sources.ts';
import { filterLogic, flatMapLogic, mapLogic, reduceLogic, sumLogic } from './transforms.ts';
import { collectSink, printSink, textFileSink } from './sinks.ts';
import type { OperatorLogic, UserFn } from './types.ts';

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

export async function createOperatorLogic(task: TaskDeployment): Promise<OperatorLogic> {
  const { vertex, subtask } = task;
  const p = vertex.parallelism;
  const where = `vertex '${vertex.id}'`;
  const keyedInput = async (): Promise<(record: unknown) => unknown> => {
    const key = task.inputs.find((i) => i.partition === 'hash')?.key;
    if (!key) throw new Error(`${vertex.operator} '${vertex.id}' needs a keyed (hash) input`);
    return keySelector(key, vertex.params, `the key of ${where}`);
  };
  switch (vertex.operator) {
    case 'source.elements': return elementsSource(vertex.elements, subtask, p);
    case 'source.generator': return generatorSource(vertex.count, vertex.fn ? await instantiate(vertex.fn, vertex.params, where) : undefined, subtask, p);
    case 'source.textFile': return textFileSource(vertex.path, subtask, p);
    case 'map': return mapLogic(await instantiate(vertex.fn, vertex.params, where));
    case 'filter': return filterLogic(await instantiate(vertex.fn, vertex.params, where));
    case 'flatMap': return flatMapLogic(await instantiate(vertex.fn, vertex.params, where));
    case 'reduce': return reduceLogic(await instantiate(vertex.fn, vertex.params, where), await keyedInput());
    case 'sum': return sumLogic(vertex.field, await keyedInput());
    case 'sink.print': return printSink(vertex.prefix, subtask, p);
    case 'sink.textFile': return textFileSink(vertex.path, subtask, p);
    case 'sink.collect': return collectSink(task.collectLimit, vertex.name);
    default: {
      const never: never = vertex;
      throw new Error(`unknown operator ${JSON.stringify((never as { operator: string }).operator)}`);
    }
  }
}
