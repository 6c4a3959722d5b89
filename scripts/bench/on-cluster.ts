/** The same two jobs on a cloudflink cluster, built with the DataStream API and submitted through a ClusterClient. */
import { readFileSync } from 'node:fs';
import { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import type { ClusterClient, JobResult } from '../../lib/client/index.ts';
import { TINY_EXPECTED, TINY_INPUT } from './in-process.ts';

export interface JobRun {
  /** Submission to end, as the Job Manager timed it (`result.durationMs`). */
  seconds: number;
  /** execute() → result() as this client saw it. */
  wallSeconds: number;
  result: JobResult;
}

/** scripts/examples/wordcount.ts's pipeline, writing the (word, count) tuples themselves. */
export async function wordCountJob(client: ClusterClient, input: string, output: string, parallelism: number): Promise<JobRun> {
  const env = new StreamExecutionEnvironment(client, { parallelism });
  env
    .readTextFile(input)
    .flatMap(function tokenize(line: string) {
      return line.split(' ').filter((word) => word.length > 0).map((word) => [word, 1] as [string, number]);
    })
    .keyBy(0)
    .sum(1)
    .writeAsText(output)
    .setParallelism(1);
  return timedJob(env, `wordcount-bench-p${parallelism}`);
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

/** The rolling counts' last value per word, and how many records the sink wrote. */
export function lastCounts(output: string): { records: number; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  let records = 0;
  for (const line of readFileSync(output, 'utf8').split('\n')) {
    if (line === '') continue;
    const [word, count] = JSON.parse(line) as [string, number];
    counts.set(word, count);
    records++;
  }
  return { records, counts };
}

async function timedJob(env: StreamExecutionEnvironment, name: string): Promise<JobRun> {
  const started = performance.now();
  const handle = await env.execute(name);
  const result = await handle.result();
  const wallSeconds = (performance.now() - started) / 1000;
  if (result.state !== 'FINISHED') {
    throw new Error(`job ${name} (${handle.jobId}) ended ${result.state}${result.cause ? `: ${result.cause}` : ''}`);
  }
  return { seconds: (result.durationMs ?? Number.NaN) / 1000, wallSeconds, result };
}
