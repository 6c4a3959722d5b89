/**
 * npm run bench [-- --only wordcount|checkpointing|nexmark|latency|backpressure|batch] [--mb 20] [--events N] [--keys N] [--seconds N] [--rate N] [--json PATH]
 *
 * Runs WordCount, the checkpointing benchmark, Nexmark, latency, backpressure and batch (or only the one named).
 * Progress goes to stderr, the tables to stdout, the same numbers as JSON to --json PATH
 * (default: the OS temp dir; with several benchmarks, PATH gets the benchmark's name before its
 * extension). A benchmark that fails is reported and the others still run. Exits 1 when any
 * failed, or any system computed a wrong answer or lost a record.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { BATCH_PARTS, batchBench, batchExact, DEFAULT_SORT_RECORDS, formatBatchReport, type BatchBenchOptions } from './batch.ts';
import { backpressureBench, backpressureExact, formatBackpressureReport, type BackpressureOptions } from './backpressure.ts';
import { allExact, checkpointingBench, type CheckpointingOptions } from './checkpointing.ts';
import { formatCheckpointingReport } from './checkpointing-report.ts';
import { formatReport, writeJson } from './report.ts';
import { commandLine } from './args.ts';
import { formatLatencyReport, latencyBench, latencyExact, type LatencyOptions } from './latency.ts';
import { formatNexmarkReport, nexmarkBench, type NexmarkBenchOptions } from './nexmark.ts';
import { Scope } from './scope.ts';
import { wordCountBench } from './wordcount.ts';

const BENCHMARKS = ['wordcount', 'checkpointing', 'nexmark', 'latency', 'backpressure', 'batch'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const USAGE = `usage: npm run bench -- [--only ${BENCHMARKS.join('|')}] [--json PATH (default: the OS temp dir)]
  wordcount:     [--mb N (default 20)]
  checkpointing: [--events N (default 8000000)] [--keys N (default 40000)] [--repeats N (default 3)]
                 [--recoveries N (default 5)] [--recovery-events N (default 1000000)] [--recovery-rate N (default 250000)]
  nexmark:       [--nexmark-events N (default 5000000)]
  latency:       [--latency-seconds N (default 10)] [--max-events N (default 5000000)]
  backpressure:  [--seconds N (default 60)] [--rate N (default 100000)] [--record-bytes N (default 200)]
                 [--heartbeat-timeout MS (default 3000, the cluster's)]
  batch:         [--mb N (its WordCount text too)] [--tpch-scale N (default 0.1)] [--sort-records N (default ${DEFAULT_SORT_RECORDS})]
`;

interface Options {
  benchmarks: Benchmark[];
  mb: number;
  checkpointing: CheckpointingOptions;
  nexmark: NexmarkBenchOptions;
  latency: LatencyOptions;
  backpressure: BackpressureOptions;
  batch: BatchBenchOptions;
  json?: string;
}

function options(): Options {
  const { text, number, fail } = commandLine({
    only: {}, mb: { default: '20' }, events: { default: '8000000' }, keys: { default: '40000' },
    repeats: { default: '3' }, recoveries: { default: '5' }, 'recovery-events': { default: '1000000' },
    'recovery-rate': { default: '250000' }, 'latency-seconds': { default: '10' }, 'max-events': { default: '5000000' },
    seconds: { default: '60' }, rate: { default: '100000' }, 'record-bytes': { default: '200' }, 'heartbeat-timeout': { default: '3000' }, 'nexmark-events': { default: '5000000' },
    'tpch-scale': { default: '0.1' }, 'sort-records': { default: String(DEFAULT_SORT_RECORDS) },
    json: {},
  }, USAGE);
  const only = text('only');
  if (only !== undefined && !(BENCHMARKS as readonly string[]).includes(only)) fail(`--only expects ${BENCHMARKS.join(' or ')}, got '${only}'`);
  const checkpointing: CheckpointingOptions = {
    events: number('events'),
    keys: number('keys'),
    repeats: number('repeats'),
    recoveries: number('recoveries'),
    recoveryEvents: number('recovery-events'),
    recoveryRate: number('recovery-rate'),
  };
  // The output check needs every key to get the same number of events.
  if (checkpointing.events % checkpointing.keys !== 0) fail(`--events (${checkpointing.events}) must be a multiple of --keys (${checkpointing.keys})`);
  if (checkpointing.recoveryEvents % 1000 !== 0) fail(`--recovery-events must be a multiple of 1000, its keys`);
  const nexmark: NexmarkBenchOptions = { events: number('nexmark-events', { min: 1000 }), queries: ['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q7', 'q8', 'q11'], parallelisms: [1, 2] };
  const latency: LatencyOptions = { seconds: number('latency-seconds'), maxEvents: number('max-events', { min: 1000 }), keys: 1000 };
  const backpressure: BackpressureOptions = {
    rate: number('rate', { min: 100 }), seconds: number('seconds'), slowShare: 0.01, recordBytes: number('record-bytes', { min: 20 }),
    keys: 1000, heartbeatTimeoutMs: number('heartbeat-timeout', { min: 1000 }),
  };
  const batch: BatchBenchOptions = {
    parts: [...BATCH_PARTS], mb: number('mb', { min: 0.001, whole: false }), scale: number('tpch-scale', { min: 0.001, whole: false }),
    sortRecords: number('sort-records'), memoryPerSlotMb: 64, parallelism: 2, seed: 42,
  };
  // Found out now rather than after minutes of benchmarking.
  const json = text('json');
  if (json !== undefined && !existsSync(dirname(json))) fail(`--json ${json}: the directory ${dirname(json)} does not exist`);
  return {
    benchmarks: only ? [only as Benchmark] : [...BENCHMARKS],
    mb: number('mb', { min: 0.001, whole: false }),
    checkpointing,
    nexmark,
    latency,
    backpressure,
    batch,
    json,
  };
}

const { benchmarks, mb, checkpointing, nexmark, latency, backpressure, batch, json: jsonPath } = options();
const started = performance.now();
const progress = (line: string): void => {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
};

/** Where a benchmark's JSON goes: --json as given for one benchmark, with its name inserted for several. */
function jsonFile(benchmark: Benchmark, startedAt: string): string {
  if (jsonPath === undefined) return join(tmpdir(), `cloudflink-bench-${benchmark}-${startedAt.replace(/[:.]/g, '-')}.json`);
  if (benchmarks.length === 1) return jsonPath;
  const extension = extname(jsonPath);
  return `${jsonPath.slice(0, jsonPath.length - extension.length)}-${benchmark}${extension || '.json'}`;
}

// One scope per benchmark, so that one's cluster and files are gone before the next measures anything.
let scope = new Scope();
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  progress('interrupted: stopping the cluster and removing temp files');
  void scope.close().finally(() => process.exit(130));
});

/** Runs one benchmark: its table, its report for the JSON file, and whether every answer was right. */
async function run(benchmark: Benchmark): Promise<{ table: string; report: { startedAt: string }; exact: boolean }> {
  switch (benchmark) {
    case 'wordcount': {
      const report = await wordCountBench({ mb, seed: 42, parallelisms: [1, 2], roundTrips: 10 }, scope, progress);
      return { table: formatReport(report), report, exact: !report.rows.some((row) => row.verified.startsWith('WRONG')) };
    }
    case 'checkpointing': {
      const report = await checkpointingBench(checkpointing, scope, progress);
      return { table: formatCheckpointingReport(report), report, exact: allExact(report) };
    }
    case 'nexmark': {
      const report = await nexmarkBench(nexmark, scope, progress);
      return { table: formatNexmarkReport(report), report, exact: report.rows.every((row) => !row.verified.startsWith('WRONG')) };
    }
    case 'latency': {
      const report = await latencyBench(latency, scope, progress);
      return { table: formatLatencyReport(report), report, exact: latencyExact(report) };
    }
    case 'backpressure': {
      const report = await backpressureBench(backpressure, scope, progress);
      return { table: formatBackpressureReport(report), report, exact: backpressureExact(report) };
    }
    case 'batch': {
      const report = await batchBench(batch, scope, progress);
      return { table: formatBatchReport(report), report, exact: batchExact(report) };
    }
    default: {
      const never: never = benchmark;
      throw new Error(`unknown benchmark ${String(never)}`);
    }
  }
}

// A benchmark that fails is reported and the next one still runs: one broken run must not hide the others' figures.
for (const benchmark of benchmarks) {
  try {
    const { table, report, exact } = await run(benchmark);
    process.stdout.write(table);
    const json = jsonFile(benchmark, report.startedAt);
    writeJson(json, report);
    process.stdout.write(`JSON: ${json}\n`);
    if (!exact) process.exitCode = 1;
  } catch (error) {
    process.exitCode = 1;
    // After Ctrl-C the run fails on its closed connection: that is not news.
    if (interrupted) break;
    progress(`${benchmark} failed: ${(error as Error).stack ?? String(error)}`);
  } finally {
    await scope.close();
    scope = new Scope();
  }
}
progress('cleaned up');
