/**
 * The external sorter against Array.prototype.sort of the same records held in memory.
 * Records ({ k: random int, v: string }) come from a seeded generator, so the sorter never
 * holds the data set and both sides sort identical input; their outputs are checked equal
 * by a running hash. The external sort runs first, so the process's RSS high-water mark
 * at its end is its own peak.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ExternalSorter, type SorterStats } from '../../lib/batch/index.ts';
import { prng } from '../../spec/helpers/random.ts';
import { commandLine } from './args.ts';
import { mb, memoryOf } from './rss.ts';

export interface SortBenchOptions {
  records: number;
  memoryBytes: number;
  seed: number;
  /** Where runs spill; a fresh temp directory by default, removed afterwards. */
  directory?: string;
}

export interface SortBenchReport {
  records: number;
  memoryBytes: number;
  external: { seconds: number; recordsPerSecond: number; stats: SorterStats; peakRssBytes?: number };
  inMemory: { seconds: number; recordsPerSecond: number; peakRssBytes?: number };
  /** In-memory records/s over external records/s: how many times slower the external sort is. */
  slowdown: number;
  sameOutput: boolean;
}

interface Rec { k: number; v: string }

const compare = (a: Rec, b: Rec): number => a.k - b.k;

function* generate(records: number, seed: number): Generator<Rec> {
  const random = prng(seed);
  for (let i = 0; i < records; i++) {
    const k = Math.floor(random() * 2 ** 31);
    yield { k, v: `value-${(k % 1_000_003).toString(36)}-${i % 97}` };
  }
}

/** A running hash of the output order, to tell that both sorts gave the same sequence. */
function digest(hash: number, record: Rec): number {
  hash = Math.imul(hash ^ record.k, 0x01000193) >>> 0;
  for (let i = 0; i < record.v.length; i++) hash = Math.imul(hash ^ record.v.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

export async function sortBench(options: SortBenchOptions, progress: (line: string) => void = () => {}): Promise<SortBenchReport> {
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'cloudflink-sort-bench-'));
  const sorter = new ExternalSorter<Rec>({ compare, memoryBytes: options.memoryBytes, directory });
  let externalHash = 0x811c9dc5;
  let started = performance.now();
  try {
    progress(`external sort of ${options.records.toLocaleString('en-US')} records, budget ${mb(options.memoryBytes)} MB`);
    for (const record of generate(options.records, options.seed)) sorter.add(record);
    const iterator = sorter.sorted();
    for (let r = iterator.next(); !r.done; r = iterator.next()) externalHash = digest(externalHash, r.value);
  } finally {
    sorter.close();
    if (options.directory === undefined) rmSync(directory, { recursive: true, force: true });
  }
  const externalSeconds = (performance.now() - started) / 1000;
  const externalPeak = memoryOf(process.pid)?.peakBytes;
  // Let the event loop turn (and the GC catch up) between the two.
  await new Promise((resolve) => setImmediate(resolve));

  progress('Array.prototype.sort of the same records in memory');
  started = performance.now();
  const all = Array.from(generate(options.records, options.seed));
  all.sort(compare);
  let inMemoryHash = 0x811c9dc5;
  for (const record of all) inMemoryHash = digest(inMemoryHash, record);
  const inMemorySeconds = (performance.now() - started) / 1000;
  const inMemoryPeak = memoryOf(process.pid)?.peakBytes;
  all.length = 0;

  const external = { seconds: externalSeconds, recordsPerSecond: options.records / externalSeconds, stats: sorter.stats, peakRssBytes: externalPeak };
  const inMemory = { seconds: inMemorySeconds, recordsPerSecond: options.records / inMemorySeconds, peakRssBytes: inMemoryPeak };
  return {
    records: options.records,
    memoryBytes: options.memoryBytes,
    external,
    inMemory,
    slowdown: inMemory.recordsPerSecond / external.recordsPerSecond,
    sameOutput: externalHash === inMemoryHash,
  };
}

export function formatSortReport(report: SortBenchReport): string {
  const rate = (n: number) => Math.round(n).toLocaleString('en-US');
  const peak = (bytes?: number) => (bytes === undefined ? 'n/a' : `${mb(bytes)} MB`);
  const { external, inMemory } = report;
  return [
    `sort of ${report.records.toLocaleString('en-US')} { k, v } records (generation included on both sides)`,
    `  external, ${mb(report.memoryBytes)} MB budget: ${rate(external.recordsPerSecond)} records/s (${external.seconds.toFixed(2)} s), ` +
      `${external.stats.spilledRuns} runs, ${mb(external.stats.spilledBytes)} MB written, ${external.stats.mergePasses} merge passes, peak RSS ${peak(external.peakRssBytes)}`,
    `  Array.prototype.sort in memory: ${rate(inMemory.recordsPerSecond)} records/s (${inMemory.seconds.toFixed(2)} s), peak RSS ${peak(inMemory.peakRssBytes)} (process high-water mark)`,
    `  external / in-memory throughput: ${(1 / report.slowdown).toFixed(2)}×; same output: ${report.sameOutput ? 'yes' : 'NO'}`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const usage = 'usage: node --import tsx scripts/bench/sort.ts [--records 5000000] [--memory-mb 64] [--seed 1]\n';
  const { number } = commandLine({ records: { default: '5000000' }, 'memory-mb': { default: '64' }, seed: { default: '1' } }, usage);
  const report = await sortBench(
    { records: number('records'), memoryBytes: number('memory-mb') * 1024 * 1024, seed: number('seed', { min: 0 }) },
    (line) => process.stderr.write(`${line}\n`),
  );
  process.stdout.write(`${formatSortReport(report)}\n`);
  if (!report.sameOutput) process.exitCode = 1;
}
