/**
 * npm run bench [-- --only wordcount|checkpointing] [--mb 20] [--events N] [--keys N] [--json PATH]
 *
 * Runs WordCount, then the checkpointing benchmark (or only the one named). Progress goes to
 * stderr, the tables to stdout, the same numbers as JSON to --json PATH (default: the OS temp
 * dir; with both benchmarks, PATH gets the benchmark's name before its extension). Exits 1
 * when any system computed a wrong answer.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { allExact, checkpointingBench, type CheckpointingOptions } from './checkpointing.ts';
import { formatCheckpointingReport } from './checkpointing-report.ts';
import { formatReport, writeJson } from './report.ts';
import { commandLine } from './args.ts';
import { Scope } from './scope.ts';
import { wordCountBench } from './wordcount.ts';

const BENCHMARKS = ['wordcount', 'checkpointing'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

const USAGE = `usage: npm run bench -- [--only ${BENCHMARKS.join('|')}] [--json PATH (default: the OS temp dir)]
  wordcount:     [--mb N (default 20)]
  checkpointing: [--events N (default 8000000)] [--keys N (default 40000)] [--repeats N (default 3)]
                 [--recoveries N (default 5)] [--recovery-events N (default 1000000)] [--recovery-rate N (default 250000)]
`;

interface Options {
  benchmarks: Benchmark[];
  mb: number;
  checkpointing: CheckpointingOptions;
  json?: string;
}

function options(): Options {
  const { text, number, fail } = commandLine({
    only: {}, mb: { default: '20' }, events: { default: '8000000' }, keys: { default: '40000' },
    repeats: { default: '3' }, recoveries: { default: '5' }, 'recovery-events': { default: '1000000' },
    'recovery-rate': { default: '250000' }, json: {},
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
  // Found out now rather than after minutes of benchmarking.
  const json = text('json');
  if (json !== undefined && !existsSync(dirname(json))) fail(`--json ${json}: the directory ${dirname(json)} does not exist`);
  return {
    benchmarks: only ? [only as Benchmark] : [...BENCHMARKS],
    mb: number('mb', { min: 0.001, whole: false }),
    checkpointing,
    json,
  };
}

const { benchmarks, mb, checkpointing, json: jsonPath } = options();
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

try {
  if (benchmarks.includes('wordcount')) {
    const report = await wordCountBench({ mb, seed: 42, parallelisms: [1, 2], roundTrips: 10 }, scope, progress);
    process.stdout.write(formatReport(report));
    const json = jsonFile('wordcount', report.startedAt);
    writeJson(json, report);
    process.stdout.write(`JSON: ${json}\n`);
    if (report.rows.some((row) => row.verified.startsWith('WRONG'))) process.exitCode = 1;
    await scope.close();
    scope = new Scope();
  }
  if (benchmarks.includes('checkpointing')) {
    const report = await checkpointingBench(checkpointing, scope, progress);
    process.stdout.write(formatCheckpointingReport(report));
    const json = jsonFile('checkpointing', report.startedAt);
    writeJson(json, report);
    process.stdout.write(`JSON: ${json}\n`);
    if (!allExact(report)) process.exitCode = 1;
  }
} catch (error) {
  // After Ctrl-C the run fails on its closed connection: that is not news.
  if (!interrupted) progress(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await scope.close();
  progress('cleaned up');
}
