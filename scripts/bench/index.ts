/**
 * npm run bench [-- --mb 20] [--json PATH]
 *
 * Progress goes to stderr, the table to stdout, the same numbers as JSON to --json PATH
 * (default: the OS temp dir). Exits 1 when any system computed wrong counts.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatReport, writeJson } from './report.ts';
import { Scope } from './scope.ts';
import { wordCountBench } from './wordcount.ts';

const USAGE = 'usage: npm run bench -- [--mb N (default 20)] [--json PATH (default: the OS temp dir)]\n';

function options(): { mb: number; json?: string } {
  let values;
  try {
    ({ values } = parseArgs({ options: { mb: { type: 'string', default: '20' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const mb = Number(values.mb);
  if (!Number.isFinite(mb) || mb <= 0) {
    process.stderr.write(`--mb expects a positive number of megabytes, got '${values.mb}'\n${USAGE}`);
    process.exit(2);
  }
  // Found out now rather than after two minutes of benchmarking.
  if (values.json !== undefined && !existsSync(dirname(values.json))) {
    process.stderr.write(`--json ${values.json}: the directory ${dirname(values.json)} does not exist\n`);
    process.exit(2);
  }
  return { mb, json: values.json };
}

const { mb, json: jsonPath } = options();
const started = performance.now();
const progress = (line: string): void => {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
};

const scope = new Scope();
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  progress('interrupted: stopping the cluster and removing temp files');
  void scope.close().finally(() => process.exit(130));
});

try {
  const report = await wordCountBench({ mb, seed: 42, parallelisms: [1, 2], roundTrips: 10 }, scope, progress);
  process.stdout.write(formatReport(report));
  const json = jsonPath ?? join(tmpdir(), `cloudflink-bench-wordcount-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  writeJson(json, report);
  process.stdout.write(`JSON: ${json}\n`);
  if (report.rows.some((row) => row.verified.startsWith('WRONG'))) process.exitCode = 1;
} catch (error) {
  // After Ctrl-C the run fails on its closed connection: that is not news.
  if (!interrupted) progress(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await scope.close();
  progress('cleaned up');
}
