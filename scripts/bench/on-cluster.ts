/** The same two jobs on a cloudflink cluster, built with the DataStream API and submitted through a ClusterClient. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import type { ClusterClient, JobResult } from '../../lib/client/index.ts';
import { TINY_EXPECTED, TINY_INPUT } from './in-process.ts';

export interface JobRun {
  /** Submission to end, as the Job Manager timed it (`result.durationMs`). */
  seconds: number;
  /** execute() → result() as this client saw it. */
  wallSeconds: number;
  result: JobResult;
  /** Checkpoints completed while the job ran. */
  checkpoints: number;
}

/**
 * scripts/examples/wordcount.ts's pipeline with exactly-once checkpoints every second. The
 * source and tokenize are chained, so are sum, format and the sink (at the job's parallelism,
 * one file per subtask); the keyBy between them is the one exchange, over NATS between Task
 * Managers. Without `output` the counts go to a discarding sink: the engine's work without
 * formatting and writing 36 MB of rolling counts (which the in-process baselines do not write).
 */
export async function wordCountJob(client: ClusterClient, input: string, output: string | undefined, parallelism: number): Promise<JobRun> {
  const env = new StreamExecutionEnvironment(client, { parallelism });
  env.enableCheckpointing(1000);
  const counts = env
    .readTextFile(input)
    .flatMap(function tokenize(line: string) {
      return line.split(' ').filter((word) => word.length > 0).map((word) => [word, 1] as [string, number]);
    })
    .keyBy(0)
    .sum(1);
  if (output === undefined) counts.discard();
  else counts.map(function format([word, count]: [string, number]) { return `${word} ${count}`; }).writeAsText(output);
  return timedJob(env, `wordcount-bench-p${parallelism}${output === undefined ? '-discard' : ''}`);
}

/** 10 records → map → collect: the job round trip, submit → FINISHED; milliseconds per run. */
export async function tinyJob(client: ClusterClient, parallelism: number, runs: number): Promise<{ wallMs: number[]; durationMs: number[] }> {
  const wallMs: number[] = [];
  const durationMs: number[] = [];
  for (let run = 0; run < runs; run++) {
    const env = new StreamExecutionEnvironment(client, { parallelism });
    const sink = env.fromElements(...TINY_INPUT).map(function double(x: number) { return x * 2; }).collect().setParallelism(1);
    const { seconds, wallSeconds, result } = await timedJob(env, `tiny-bench-p${parallelism}`);
    const got = (result.collected[sink.id] ?? []) as number[];
    if ([...got].sort((a, b) => a - b).join() !== TINY_EXPECTED.join()) {
      throw new Error(`the tiny job collected [${got.join()}], expected [${TINY_EXPECTED.join()}]`);
    }
    wallMs.push(wallSeconds * 1000);
    durationMs.push(seconds * 1000);
  }
  return { wallMs, durationMs };
}

/** The rolling counts' last value per word, and how many records the sink wrote (a file, or a directory of part files). */
export function lastCounts(output: string): { records: number; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  let records = 0;
  const files = statSync(output).isDirectory() ? readdirSync(output).map((name) => join(output, name)) : [output];
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      // Words hold no spaces: they are what lies between them.
      const space = line.lastIndexOf(' ');
      counts.set(line.slice(0, space), Number(line.slice(space + 1)));
      records++;
    }
  }
  return { records, counts };
}

async function timedJob(env: StreamExecutionEnvironment, name: string): Promise<JobRun> {
  const started = performance.now();
  const handle = await env.execute(name);
  let checkpoints = 0;
  const counted = (async () => {
    for await (const event of handle.events()) if (event.type === 'checkpoint.completed') checkpoints++;
  })();
  const result = await handle.result();
  await counted;
  const wallSeconds = (performance.now() - started) / 1000;
  if (result.state !== 'FINISHED') {
    throw new Error(`job ${name} (${handle.jobId}) ended ${result.state}${result.cause ? `: ${result.cause}` : ''}`);
  }
  return { seconds: (result.durationMs ?? Number.NaN) / 1000, wallSeconds, result, checkpoints };
}
