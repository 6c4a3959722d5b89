import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ExecutionEnvironment, StreamExecutionEnvironment } from '../api/index.ts';
import type { JobDescriptor } from '../descriptor/types.ts';
import { CloudflinkError } from '../errors/index.ts';

export interface JobFileOptions {
  params: Record<string, string>;
  parallelism?: number;
}

/** What a TypeScript or JavaScript job file exports: a function of a streaming environment, or with `export const mode = 'batch'` of a batch one. */
export type JobMain = (env: StreamExecutionEnvironment | ExecutionEnvironment, params: Record<string, string>) => void | Promise<void>;

/**
 * A job file is a JSON descriptor, or a module whose default export builds the job on the
 * environment it is given (`export default (env, params) => { … }`; `export const jobName`
 * names it, else the file name does). `export const mode = 'batch'` gives it the DataSet
 * API's ExecutionEnvironment instead of the streaming one.
 */
export async function loadJobFile(file: string, options: JobFileOptions): Promise<JobDescriptor> {
  const path = resolve(file);
  if (!existsSync(path)) throw new CloudflinkError('JOB_FILE_INVALID', `no such job file: ${file}`);
  const extension = extname(path);
  if (extension === '.json') return fromJson(path, options);
  if (!['.ts', '.mts', '.js', '.mjs'].includes(extension)) {
    throw new CloudflinkError('JOB_FILE_INVALID', `${file}: a job file is a .json descriptor or a .ts/.js module`);
  }
  const module = await import(pathToFileURL(path).href) as { default?: unknown; jobName?: unknown; mode?: unknown };
  if (typeof module.default !== 'function') {
    throw new CloudflinkError('JOB_FILE_INVALID',
      `${file} must export a default function that builds the job: export default (env, params) => { env.fromElements(…)… }`);
  }
  if (module.mode !== undefined && module.mode !== 'batch' && module.mode !== 'streaming') {
    throw new CloudflinkError('JOB_FILE_INVALID', `${file}: export const mode is 'streaming' or 'batch', not ${JSON.stringify(module.mode)}`);
  }
  const env = module.mode === 'batch'
    ? new ExecutionEnvironment(undefined, { params: options.params })
    : new StreamExecutionEnvironment(undefined, { params: options.params });
  if (options.parallelism) env.setParallelism(options.parallelism);
  await (module.default as JobMain)(env, options.params);
  const name = typeof module.jobName === 'string' ? module.jobName : basename(path, extension);
  return env.getDescriptor(name);
}

function fromJson(path: string, options: JobFileOptions): JobDescriptor {
  let descriptor: JobDescriptor;
  try {
    descriptor = JSON.parse(readFileSync(path, 'utf8')) as JobDescriptor;
  } catch (error) {
    throw new CloudflinkError('JOB_FILE_INVALID', `${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (descriptor && typeof descriptor === 'object') {
    if (Object.keys(options.params).length > 0) descriptor.params = { ...descriptor.params, ...options.params };
    if (options.parallelism) descriptor.parallelism = options.parallelism;
  }
  return descriptor;
}

/** `--param k=v`, repeatable, into an object. */
export function collectParam(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new CloudflinkError('JOB_FILE_INVALID', `--param takes key=value, got '${value}'`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}
