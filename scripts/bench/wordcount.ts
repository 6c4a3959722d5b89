/**
 * WordCount throughput and job round trip, cloudflink against a plain loop and RxJS, all
 * measured in this run on this machine. Every system's final counts are checked against
 * the plain loop's: a fast wrong answer is not a result.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient } from '../../lib/client/index.ts';
import { startLocalCluster } from '../../lib/cluster/local.ts';
import { loadConfig } from '../../lib/config/index.ts';
import { writeText } from '../../spec/helpers/text.ts';
import { cpuMeter, formatCpu } from './cpu.ts';
import { plainTinyJob, plainWordCount, rxjsGroupByWordCount, rxjsScanWordCount, rxjsTinyJob } from './in-process.ts';
import { lastCounts, tinyJob, wordCountJob } from './on-cluster.ts';
import type { BenchReport, ThroughputRow } from './report.ts';
import type { Scope } from './scope.ts';

export interface WordCountOptions {
  mb: number;
  seed: number;
  /** Parallelisms to run the cloudflink job at, on 2 TMs × 2 slots. */
  parallelisms: number[];
  roundTrips: number;
}

export type Progress = (line: string) => void;

export async function wordCountBench(options: WordCountOptions, scope: Scope, progress: Progress): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  // Other work on the machine slows every row; the 1-minute load average at the start says how much there was.
  const loadAverage = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'cloudflink-bench-'));
  scope.defer('remove the temp dir', () => rmSync(dir, { recursive: true, force: true }));
  const input = join(dir, 'input.txt');

  progress(`writing ${options.mb} MB of text (seed ${options.seed})`);
  await writeText(input, options.mb * 1024 * 1024, options.seed);

  progress('plain loop');
  const plain = plainWordCount(input);
  progress(`plain loop: ${plain.words.toLocaleString('en-US')} words, ${plain.counts.size.toLocaleString('en-US')} distinct, in ${plain.seconds.toFixed(2)} s`);
  progress('RxJS, groupBy → scan');
  const rxjs = rxjsGroupByWordCount(input);
  progress(`RxJS, groupBy → scan: ${rxjs.seconds.toFixed(2)} s; RxJS, one scan over a Map`);
  const rxjsScan = rxjsScanWordCount(input);
  progress(`RxJS, one scan over a Map: ${rxjsScan.seconds.toFixed(2)} s`);
  const plainRoundTrip = median(plainTinyJob(options.roundTrips));
  const rxjsRoundTrip = median(rxjsTinyJob(options.roundTrips));

  const row = (name: string, run: { seconds: number; wallSeconds?: number }, roundTripMs: number, verified: string): ThroughputRow => {
    const wordsPerSecond = plain.words / run.seconds;
    return {
      name, words: plain.words, seconds: run.seconds, wallSeconds: run.wallSeconds ?? run.seconds, wordsPerSecond,
      vsPlain: wordsPerSecond / (plain.words / plain.seconds), vsRxjs: wordsPerSecond / (plain.words / rxjs.seconds),
      vsRxjsScan: wordsPerSecond / (plain.words / rxjsScan.seconds),
      roundTripMs, verified,
    };
  };
  const rows = [
    row('plain loop', plain, plainRoundTrip, 'reference'),
    row('RxJS groupBy', rxjs, rxjsRoundTrip, verify(plain.counts, rxjs.counts, rxjs.words, plain.words)),
    row('RxJS scan(Map)', rxjsScan, rxjsRoundTrip, verify(plain.counts, rxjsScan.counts, rxjsScan.words, plain.words)),
  ];

  progress('starting nats-server, a Job Manager and 2 Task Managers × 2 slots');
  const cluster = await startLocalCluster({
    config: loadConfig({ overrides: { log: { level: 'warn' } } }),
    taskManagers: 2,
    slots: 2,
    taskManagerStdout: 'ignore',
    logDir: join(dir, 'logs'),
  });
  scope.defer('stop the cluster', () => cluster.stop());
  const client = await ClusterClient.connect(cluster.config);
  scope.defer('close the client', () => client.close());

  const pids = {
    'nats-server': cluster.nats?.process.pid,
    jobmanager: cluster.jobManager.pid,
    ...Object.fromEntries([...cluster.taskManagers].map(([tmId, child]) => [tmId, child.pid])),
    client: process.pid,
  };
  const notes: string[] = [];
  for (const parallelism of options.parallelisms) {
    const output = join(dir, `counts-p${parallelism}`);
    const name = parallelism === 1 ? 'cloudflink chained p=1' : `cloudflink keyed p=${parallelism}`;
    progress(`${name}: running WordCount`);
    const cpu = cpuMeter(pids);
    const run = await wordCountJob(client, input, output, parallelism);
    const cpuSeconds = cpu();
    progress(`${name}: FINISHED in ${run.seconds.toFixed(2)} s (wall ${run.wallSeconds.toFixed(2)} s), ${run.checkpoints} checkpoints; checking the counts`);
    const written = lastCounts(output);
    const outputMb = bytesOf(output) / 1024 / 1024;
    rmSync(output, { recursive: true, force: true });
    progress(`${name}: ${options.roundTrips} tiny jobs for the round trip`);
    const tiny = await tinyJob(client, parallelism, options.roundTrips);
    rows.push({
      ...row(name, run, median(tiny.wallMs), verify(plain.counts, written.counts, written.records, plain.words)),
      cpuSeconds, checkpoints: run.checkpoints,
    });
    notes.push(`${name}: CPU seconds during the job: ${formatCpu(cpuSeconds)}; ${run.checkpoints} checkpoints completed`,
      `  records in → out (busy s, backpressured s): ${run.result.vertices.map((v) =>
        `${v.name}×${v.parallelism} ${v.recordsIn} → ${v.recordsOut} (${(v.busyMs / 1000).toFixed(1)}, ${(v.backpressuredMs / 1000).toFixed(1)})`).join(', ')}`,
      `  output ${outputMb.toFixed(0)} MB; tiny job: median durationMs ${median(tiny.durationMs).toFixed(0)} (Job Manager clock), median wall ${median(tiny.wallMs).toFixed(1)} ms`);
  }

  // What the engine costs without the output: the baselines keep their counts in a Map, they write nothing.
  const name = 'cloudflink chained p=1, discard';
  progress(`${name}: running WordCount`);
  const cpu = cpuMeter(pids);
  const run = await wordCountJob(client, input, undefined, 1);
  const cpuSeconds = cpu();
  const sum = run.result.vertices.find((v) => v.name === 'sum')!;
  const sink = run.result.vertices.find((v) => v.name === 'sink.discard')!;
  const counted = sum.recordsIn === plain.words && sink.recordsIn === plain.words
    ? 'records ok' : `WRONG: sum took ${sum.recordsIn} and the sink ${sink.recordsIn} of ${plain.words} words`;
  rows.push({ ...row(name, run, rows.find((r) => r.name === 'cloudflink chained p=1')?.roundTripMs ?? Number.NaN, counted), cpuSeconds, checkpoints: run.checkpoints });
  notes.push(`${name}: CPU seconds during the job: ${formatCpu(cpuSeconds)}; ${run.checkpoints} checkpoints completed; ` +
    'its counts are not written, so only how many records each operator took is checked ("records ok")');

  return {
    benchmark: 'wordcount',
    startedAt,
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}`, loadAverage },
    params: { ...options, inputBytes: statSync(input).size, distinctWords: plain.counts.size, cluster: '2 Task Managers × 2 slots, 1 Job Manager, 1 nats-server' },
    rows,
    notes,
  };
}

function bytesOf(path: string): number {
  if (!statSync(path).isDirectory()) return statSync(path).size;
  return readdirSync(path).reduce((sum, name) => sum + statSync(join(path, name)).size, 0);
}

/** 'ok' when every final count equals the reference and one rolling count came out per word. */
function verify(expected: Map<string, number>, actual: Map<string, number>, records: number, words: number): string {
  const wrong = [...expected].filter(([word, count]) => actual.get(word) !== count);
  const extra = [...actual.keys()].filter((word) => !expected.has(word));
  const problems: string[] = [];
  if (wrong.length > 0) {
    const [word, count] = wrong[0]!;
    problems.push(`${wrong.length} of ${expected.size} words wrong (${word}: ${actual.get(word)} ≠ ${count})`);
  }
  if (extra.length > 0) problems.push(`${extra.length} unexpected words`);
  if (records !== words) problems.push(`${records} rolling counts for ${words} words`);
  return problems.length === 0 ? 'ok' : `WRONG: ${problems.join('; ')}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
