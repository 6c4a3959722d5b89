/**
 * The DataSet API on a cluster (2 Task Managers, p=2) against plain loops doing the same work
 * in this process, all measured in this run: batch WordCount, TPC-H Q3, and a sort bigger than
 * the memory it is given. Every cluster answer is checked against the loop's, or, for the sort,
 * streamed back from its files: totally ordered, every key once.
 *
 *   node --import tsx scripts/bench/batch.ts [--only wordcount|tpch|sort] [--mb 20] [--scale 0.1] [--sort-records 10000000]
 *     [--memory-mb 64] [--sort-heartbeat-timeout MS] [--json PATH]
 *
 * Takes about 80 s on the 2-core development machine with these defaults.
 */
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { ExecutionEnvironment } from '../../lib/api/index.ts';
import { ClusterClient, type JobResult } from '../../lib/client/index.ts';
import { startLocalCluster, type LocalCluster } from '../../lib/cluster/local.ts';
import { loadConfig } from '../../lib/config/index.ts';
import { writeText } from '../../spec/helpers/text.ts';
import batchWordcount from '../examples/batch-wordcount.ts';
import { generateTpch } from '../examples/tpch/generate.ts';
import { TPCH_DELIMITER, TPCH_FIELDS, type TpchTable } from '../examples/tpch/schema.ts';
import { tpchQ3, type Q3Row } from '../examples/tpch-q3.ts';
import { commandLine } from './args.ts';
import { cpuMeter, formatCpu, type Pids } from './cpu.ts';
import { formatColumns, writeJson } from './report.ts';
import { mb, memoryOf, memoryOfAll } from './rss.ts';
import { Scope } from './scope.ts';

export const BATCH_PARTS = ['wordcount', 'tpch', 'sort'] as const;
export type BatchPart = (typeof BATCH_PARTS)[number];

export interface BatchBenchOptions {
  parts: BatchPart[];
  /** Megabytes of generated text for WordCount. */
  mb: number;
  /** TPC-H scale factor for Q3. */
  scale: number;
  /** Records of the big sort. */
  sortRecords: number;
  /** Each slot's memory for sorts, groupings and joins before they spill. */
  memoryPerSlotMb: number;
  parallelism: number;
  seed: number;
  /** The sort cluster's heartbeat timeout, when not the shipped 3 s: past ~13 M records a merge pass holds a Task Manager's event loop longer. */
  sortHeartbeatTimeoutMs?: number;
}

export interface BatchRow {
  bench: BatchPart;
  system: string;
  /** Words for WordCount, input rows (all three tables) for Q3, records for the sort. */
  records: number;
  /** The loop's time for in-process rows; the job's durationMs (submission → FINISHED) for cluster rows. */
  seconds: number;
  wallSeconds: number;
  recordsPerSecond: number;
  /** records/s over the plain loop's of the same bench. */
  vsPlain: number;
  verified: string;
  cpuSeconds?: Record<string, number>;
  /** Per process: the most it held during the run (VmHWM, reset just before the run). */
  peakRssBytes?: Record<string, number>;
  /** The most the job's spill directories held at once (sampled every 250 ms). */
  peakSpillBytes?: number;
}

export interface BatchReport {
  benchmark: 'batch';
  startedAt: string;
  machine: { cpus: number; node: string; platform: string; loadAverage: number };
  params: BatchBenchOptions & Record<string, unknown>;
  rows: BatchRow[];
  notes: string[];
}

export type Progress = (line: string) => void;

/** A cluster of 2 Task Managers × 2 slots and a client; stop() once, or the scope does. */
interface Cluster { cluster: LocalCluster; client: ClusterClient; pids: Pids; stop(): Promise<void> }

/**
 * The records of the big sort by default, the issue's 20 M: about 2 minutes of job on the
 * 2-core machine. Each sortPartition subtask spills about 90 runs, merged in one pass (the
 * sorter merges up to FAN_IN, 512, at once); past that a merge pass would run inside one
 * synchronous next() and could hold its Task Manager's event loop past the heartbeat timeout
 * (see --sort-heartbeat-timeout).
 */
export const DEFAULT_SORT_RECORDS = 20_000_000;

export async function batchBench(options: BatchBenchOptions, scope: Scope, progress: Progress): Promise<BatchReport> {
  const startedAt = new Date().toISOString();
  const loadAverage = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'cloudflink-bench-batch-'));
  scope.defer('remove the temp dir', () => rmSync(dir, { recursive: true, force: true }));
  const rows: BatchRow[] = [];
  const notes: string[] = [];
  const params: Record<string, unknown> = {};

  let shared: Cluster | undefined;
  const cluster = async (): Promise<Cluster> => (shared ??= await startCluster(scope, join(dir, 'logs'), progress, undefined));
  if (options.parts.includes('wordcount')) {
    const result = await wordCount(options, dir, cluster, progress);
    rows.push(...result.rows);
    notes.push(...result.notes);
    params.wordcount = result.params;
  }
  if (options.parts.includes('tpch')) {
    const result = await tpch(options, dir, cluster, progress);
    rows.push(...result.rows);
    notes.push(...result.notes);
    params.tpch = result.params;
  }
  if (options.parts.includes('sort')) {
    // A cluster of its own, after the others' is gone: its processes' peaks are the sort's, and nothing else competes for the cores.
    await shared?.stop();
    shared = undefined;
    const result = await bigSort(options, dir, () => startCluster(scope, join(dir, 'logs-sort'), progress, options.sortHeartbeatTimeoutMs), progress);
    rows.push(...result.rows);
    notes.push(...result.notes);
    params.sort = result.params;
  }
  return {
    benchmark: 'batch', startedAt,
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}`, loadAverage },
    params: { ...options, ...params, cluster: '2 Task Managers × 2 slots, 1 Job Manager, 1 nats-server' },
    rows, notes,
  };
}

export function batchExact(report: BatchReport): boolean {
  return report.rows.every((row) => !row.verified.startsWith('WRONG'));
}

async function startCluster(scope: Scope, logDir: string, progress: Progress, heartbeatTimeoutMs: number | undefined): Promise<Cluster> {
  progress(`starting nats-server, a Job Manager and 2 Task Managers × 2 slots${heartbeatTimeoutMs === undefined ? '' : `, heartbeat timeout ${heartbeatTimeoutMs} ms`}`);
  const cluster = await startLocalCluster({
    config: loadConfig({ overrides: { log: { level: 'warn' }, ...(heartbeatTimeoutMs === undefined ? {} : { heartbeat: { timeoutMs: heartbeatTimeoutMs } }) } }),
    taskManagers: 2, slots: 2, taskManagerStdout: 'ignore', logDir,
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= cluster.stop());
  scope.defer('stop the cluster', stop);
  const client = await ClusterClient.connect(cluster.config);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= client.close());
  scope.defer('close the client', close);
  const pids: Pids = {
    'nats-server': cluster.nats?.process.pid,
    jobmanager: cluster.jobManager.pid,
    ...Object.fromEntries([...cluster.taskManagers].map(([tmId, child]) => [tmId, child.pid])),
    bench: process.pid,
  };
  return { cluster, client, pids, stop: async () => { await close(); await stop(); } };
}

interface Part { rows: BatchRow[]; notes: string[]; params: Record<string, unknown> }

function row(bench: BatchPart, system: string, records: number, seconds: number, wallSeconds: number, plainSeconds: number, verified: string): BatchRow {
  return {
    bench, system, records, seconds, wallSeconds, recordsPerSecond: records / seconds,
    vsPlain: plainSeconds / seconds, verified,
  };
}

// ---------------------------------------------------------------- WordCount

async function wordCount(options: BatchBenchOptions, dir: string, cluster: () => Promise<Cluster>, progress: Progress): Promise<Part> {
  const input = join(dir, 'words.txt');
  progress(`wordcount: writing ${options.mb} MB of text (seed ${options.seed})`);
  await writeText(input, options.mb * 1024 * 1024, options.seed);

  progress('wordcount: plain loop (a Map, then the counts sorted)');
  const started = performance.now();
  const counts = new Map<string, number>();
  let words = 0;
  for (const line of readFileSync(input, 'utf8').split('\n')) {
    for (const word of line.split(' ')) {
      if (word.length === 0) continue;
      counts.set(word, (counts.get(word) ?? 0) + 1);
      words++;
    }
  }
  const expected = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([word, count]) => `${word} ${count}`);
  const plainSeconds = (performance.now() - started) / 1000;
  progress(`wordcount: plain loop: ${words.toLocaleString('en-US')} words, ${counts.size.toLocaleString('en-US')} distinct, ${plainSeconds.toFixed(2)} s`);

  const { client, pids } = await cluster();
  const runs = [];
  for (const shuffle of SHUFFLES) {
    const output = join(dir, `wordcount-out-${shuffle}.txt`);
    const env = new ExecutionEnvironment(client, { parallelism: options.parallelism, shuffle });
    // The example itself: readTextFile → tokenize → groupBy(0).sum(1) (with its combiner) → sortPartition at p=1 → one file.
    batchWordcount(env, { input, output });
    progress(`wordcount: cloudflink p=${options.parallelism}, ${shuffle} shuffle`);
    const run = await timedJob(env, `batch-wordcount-bench-p${options.parallelism}-${shuffle}`, pids);
    const written = readFileSync(output, 'utf8').split('\n').filter((line) => line !== '');
    const firstDiff = expected.findIndex((line, i) => written[i] !== line);
    const verified = written.length === expected.length && firstDiff < 0 ? 'ok (counts and order)'
      : `WRONG: ${written.length} lines for ${expected.length} words` + (firstDiff >= 0 ? `; line ${firstDiff + 1} is '${written[firstDiff]}', expected '${expected[firstDiff]}'` : '');
    runs.push({ shuffle, run, verified });
  }
  return {
    rows: [
      row('wordcount', 'plain loop', words, plainSeconds, plainSeconds, plainSeconds, 'reference'),
      ...runs.map(({ shuffle, run, verified }) => ({
        ...row('wordcount', `cloudflink p=${options.parallelism}${shuffleLabel(shuffle)}`, words, run.seconds, run.wallSeconds, plainSeconds, verified), cpuSeconds: run.cpuSeconds,
      })),
    ],
    notes: [`wordcount: ${vertexLine(runs[0]!.run.result)}`],
    params: { inputBytes: statSync(input).size, words, distinctWords: counts.size },
  };
}

/**
 * WordCount and Q3 run with the default blocking shuffle (stages through stored partitions) and
 * with the pipelined one (every stage at once, over NATS): the price of region failover.
 */
const SHUFFLES = ['blocking', 'pipelined'] as const;

function shuffleLabel(shuffle: (typeof SHUFFLES)[number]): string {
  return shuffle === 'blocking' ? '' : ' pipelined';
}

// ---------------------------------------------------------------- TPC-H Q3

const Q3_SEGMENT = 'BUILDING';
const Q3_DATE = '1995-03-15';

async function tpch(options: BatchBenchOptions, dir: string, cluster: () => Promise<Cluster>, progress: Progress): Promise<Part> {
  const data = join(dir, 'tpch');
  progress(`tpch: generating scale ${options.scale} (2 files per table)`);
  const generated = generateTpch({ directory: data, scale: options.scale, files: 2, seed: options.seed });
  const inputRows = generated.customer + generated.orders + generated.lineitem;
  progress(`tpch: ${generated.customer} customers, ${generated.orders} orders, ${generated.lineitem} lineitems, ${mb(generated.bytes)} MB`);

  progress('tpch: plain loop (typed rows, a Set and two Maps, a sort)');
  const plain = plainQ3(data);
  progress(`tpch: plain loop: ${plain.seconds.toFixed(2)} s, ${plain.groups} orders in the result before the limit`);

  const { client, pids } = await cluster();
  const runs = [];
  for (const shuffle of SHUFFLES) {
    const env = new ExecutionEnvironment(client, { parallelism: options.parallelism, shuffle });
    const sink = tpchQ3(env, data, { segment: Q3_SEGMENT, date: Q3_DATE }).collect().setParallelism(1);
    progress(`tpch: cloudflink p=${options.parallelism}, ${shuffle} shuffle`);
    const run = await timedJob(env, `tpch-q3-bench-p${options.parallelism}-${shuffle}`, pids);
    runs.push({ shuffle, run, verified: sameQ3(plain.top, (run.result.collected[sink.id] ?? []) as Q3Row[]) });
  }
  const run = runs[0]!.run;
  return {
    rows: [
      row('tpch', 'plain loop', inputRows, plain.seconds, plain.seconds, plain.seconds, 'reference'),
      ...runs.map(({ shuffle, run, verified }) => ({
        ...row('tpch', `cloudflink p=${options.parallelism}${shuffleLabel(shuffle)}`, inputRows, run.seconds, run.wallSeconds, plain.seconds, verified), cpuSeconds: run.cpuSeconds,
      })),
    ],
    notes: [
      `tpch: Q3 at scale ${options.scale}: ${inputRows.toLocaleString('en-US')} input rows (${mb(generated.bytes)} MB), ${plain.groups} orders before the limit; ` +
        `first row ${plain.top[0] ? `${plain.top[0].l_orderkey} ${plain.top[0].revenue.toFixed(2)}` : 'none'}`,
      `tpch: ${vertexLine(run.result)}`,
    ],
    params: { scale: options.scale, ...generated, inputRows },
  };
}

/** Q3 as one would write it without an engine: each table read and typed as the CSV source types it, then Maps. */
export function plainQ3(data: string): { seconds: number; top: Q3Row[]; groups: number } {
  const started = performance.now();
  const customers = new Set<number>();
  for (const c of rows('customer', data)) if (c.c_mktsegment === Q3_SEGMENT) customers.add(c.c_custkey as number);
  const orders = new Map<number, { o_orderdate: string; o_shippriority: number }>();
  for (const o of rows('orders', data)) {
    if ((o.o_orderdate as string) < Q3_DATE && customers.has(o.o_custkey as number)) {
      orders.set(o.o_orderkey as number, { o_orderdate: o.o_orderdate as string, o_shippriority: o.o_shippriority as number });
    }
  }
  const revenue = new Map<number, Q3Row>();
  for (const l of rows('lineitem', data)) {
    if ((l.l_shipdate as string) <= Q3_DATE) continue;
    const order = orders.get(l.l_orderkey as number);
    if (order === undefined) continue;
    const value = (l.l_extendedprice as number) * (1 - (l.l_discount as number));
    const group = revenue.get(l.l_orderkey as number);
    if (group) group.revenue += value;
    else revenue.set(l.l_orderkey as number, { l_orderkey: l.l_orderkey as number, revenue: value, ...order });
  }
  const sorted = [...revenue.values()].sort((a, b) => b.revenue - a.revenue || (a.o_orderdate < b.o_orderdate ? -1 : a.o_orderdate > b.o_orderdate ? 1 : 0));
  return { seconds: (performance.now() - started) / 1000, top: sorted.slice(0, 10), groups: revenue.size };
}

/** A table's part files, one typed record per line. */
function* rows(table: TpchTable, data: string): Generator<Record<string, unknown>> {
  const fields = TPCH_FIELDS[table];
  for (const name of readdirSync(join(data, table)).sort()) {
    for (const line of readFileSync(join(data, table, name), 'utf8').split('\n')) {
      if (line === '') continue;
      const values = line.split(TPCH_DELIMITER);
      const record: Record<string, unknown> = {};
      for (let i = 0; i < fields.length; i++) {
        const { name: field, type } = fields[i]!;
        record[field] = type === 'string' ? values[i] : Number(values[i]);
      }
      yield record;
    }
  }
}

/** The same orders in the same order, their revenues equal but for the order of the float additions. */
function sameQ3(expected: Q3Row[], got: Q3Row[]): string {
  if (got.length !== expected.length) return `WRONG: ${got.length} rows, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const g = got[i]!;
    if (g.l_orderkey !== e.l_orderkey || g.o_orderdate !== e.o_orderdate || g.o_shippriority !== e.o_shippriority ||
      Math.abs(g.revenue - e.revenue) > 1e-9 * Math.abs(e.revenue)) {
      return `WRONG: row ${i + 1} is ${JSON.stringify(g)}, expected ${JSON.stringify(e)}`;
    }
  }
  return 'ok (10 rows)';
}

// ---------------------------------------------------------------- the big sort

/** The key of record i: i times an odd constant modulo 2^32, a permutation, so every key is distinct and the order random. */
const sortKey = (i: number): number => Math.imul(i, 0x9e3779b1) >>> 0;
const sortPayload = (i: number): string => `payload-${i.toString(36).padStart(8, '0')}`;

async function bigSort(options: BatchBenchOptions, dir: string, startSortCluster: () => Promise<Cluster>, progress: Progress): Promise<Part> {
  const n = options.sortRecords;
  const { client, pids, stop } = await startSortCluster();
  const output = join(dir, 'sorted');
  const env = new ExecutionEnvironment(client, { parallelism: options.parallelism, memoryPerSlotMb: options.memoryPerSlotMb });
  // The functions travel as text: they repeat sortKey and sortPayload, which the check below uses.
  env.generateSequence(0, n - 1)
    .map(function record(i: number) { return { k: Math.imul(i, 0x9e3779b1) >>> 0, payload: `payload-${i.toString(36).padStart(8, '0')}` }; })
    .partitionByRange('k')
    .sortPartition('k')
    .writeAsJsonLines(output);

  progress(`sort: cloudflink p=${options.parallelism}, ${n.toLocaleString('en-US')} records, ${options.memoryPerSlotMb} MB per slot`);
  const sampler = sampleDuring(pids);
  let run: JobRun;
  try {
    run = await timedJob(env, `sort-bench-${n}`, pids, (jobId) => { sampler.jobId = jobId; });
  } finally {
    sampler.stop();
  }
  const peaks = Object.fromEntries(Object.entries(memoryOfAll(pids)).map(([name, m]) => [name, m.peakBytes]));
  progress(`sort: FINISHED in ${run.seconds.toFixed(1)} s; reading the output back`);
  const check = checkSorted(output, n);
  const outputBytes = readdirSync(output).reduce((sum, name) => sum + statSync(join(output, name)).size, 0);
  rmSync(output, { recursive: true, force: true });
  // The cluster is done: the in-process sort gets the cores to itself.
  await stop();

  const fit = Math.min(n, Math.floor((getHeapStatistics().heap_size_limit * 0.6) / IN_MEMORY_BYTES_PER_RECORD));
  progress(`sort: Array.prototype.sort of ${fit.toLocaleString('en-US')} records in this process`);
  const inMemory = arraySort(fit);
  return {
    rows: [
      {
        ...row('sort', `Array.prototype.sort${fit < n ? ` (${fit.toLocaleString('en-US')})` : ''}`, fit, inMemory.seconds, inMemory.seconds, inMemory.seconds, inMemory.verified),
        ...(inMemory.peakRssBytes === undefined ? {} : { peakRssBytes: { bench: inMemory.peakRssBytes } }),
      },
      {
        ...row('sort', `cloudflink p=${options.parallelism}`, n, run.seconds, run.wallSeconds, inMemory.seconds * (n / fit), check),
        cpuSeconds: run.cpuSeconds, peakRssBytes: peaks, peakSpillBytes: sampler.peakSpillBytes,
      },
    ],
    notes: [
      `sort: generateSequence → map → partitionByRange(k) → sortPartition(k) → writeAsJsonLines, p=${options.parallelism}, memoryPerSlotMb ${options.memoryPerSlotMb}; ` +
        `output ${mb(outputBytes)} MB; spill on disk at most ${mb(sampler.peakSpillBytes)} MB (sampled)`,
      `sort: peak RSS (VmHWM, reset before the job): ${Object.entries(peaks).map(([name, bytes]) => `${name} ${mb(bytes)} MB`).join(', ')}`,
      `sort: RSS sampled every 250 ms, max: ${Object.entries(sampler.maxRss).map(([name, bytes]) => `${name} ${mb(bytes)} MB`).join(', ')}`,
      `sort: CPU seconds: ${formatCpu(run.cpuSeconds)}`,
      `sort: ${vertexLine(run.result)}`,
    ],
    params: { records: n, inMemoryRecords: fit, outputBytes, memoryPerSlotMb: options.memoryPerSlotMb },
  };
}

/** What one { k, payload } record and its array slot take on the heap, measured: about 100 bytes. */
const IN_MEMORY_BYTES_PER_RECORD = 110;

function arraySort(n: number): { seconds: number; verified: string; peakRssBytes?: number } {
  resetPeak(process.pid);
  const started = performance.now();
  const records = new Array<{ k: number; payload: string }>(n);
  for (let i = 0; i < n; i++) records[i] = { k: sortKey(i), payload: sortPayload(i) };
  records.sort((a, b) => a.k - b.k);
  const seconds = (performance.now() - started) / 1000;
  let ordered = true;
  for (let i = 1; i < n && ordered; i++) ordered = records[i - 1]!.k < records[i]!.k;
  const peakRssBytes = memoryOf(process.pid)?.peakBytes;
  records.length = 0;
  return { seconds, verified: ordered ? 'ok (in order)' : 'WRONG: not in order', peakRssBytes };
}

/** Every key once, ascending through part-0, part-1, …: read a few MB at a time, never the whole output. */
export function checkSorted(directory: string, n: number): string {
  let expectedSum = 0;
  let expectedXor = 0;
  for (let i = 0; i < n; i++) {
    const k = sortKey(i);
    expectedSum = (expectedSum + k) >>> 0;
    expectedXor = (expectedXor ^ k) >>> 0;
  }
  const files = readdirSync(directory).filter((name) => /^part-\d+$/.test(name)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  let count = 0;
  let sum = 0;
  let xor = 0;
  let previous = -1;
  let disorder: string | undefined;
  for (const file of files) {
    for (const line of lines(join(directory, file))) {
      // {"k":123,"payload":"…"}: the key is the first member, as the map builds the record.
      const k = line.startsWith('{"k":') ? Number(line.slice(5, line.indexOf(','))) : (JSON.parse(line) as { k: number }).k;
      if (k <= previous && disorder === undefined) disorder = `${file} line ${count + 1}: key ${k} after ${previous}`;
      previous = k;
      sum = (sum + k) >>> 0;
      xor = (xor ^ k) >>> 0;
      count++;
    }
  }
  const problems: string[] = [];
  if (disorder) problems.push(`out of order at ${disorder}`);
  if (count !== n) problems.push(`${count} records, expected ${n}`);
  if (sum !== expectedSum || xor !== expectedXor) problems.push('the keys differ from those generated (checksum)');
  return problems.length === 0 ? `ok (${files.length} files in order, checksum)` : `WRONG: ${problems.join('; ')}`;
}

/** A file's lines, read 4 MB at a time. */
function* lines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  const buffer = Buffer.alloc(4 << 20);
  let rest = '';
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, null);
      if (read === 0) break;
      const text = rest + buffer.toString('utf8', 0, read);
      const parts = text.split('\n');
      rest = parts.pop()!;
      for (const line of parts) if (line !== '') yield line;
    }
    if (rest !== '') yield rest;
  } finally {
    closeSync(fd);
  }
}

/**
 * Resets each process's VmHWM (Linux: 5 into /proc/<pid>/clear_refs), samples RSS and the
 * job's spill directories every 250 ms until stopped. The spill directories are the
 * operators' (tmpdir()/cloudflink-spill/<jobId>-…), on this host's disk.
 */
function sampleDuring(pids: Pids) {
  for (const pid of Object.values(pids)) if (pid !== undefined) resetPeak(pid);
  const state = { jobId: undefined as string | undefined, peakSpillBytes: 0, maxRss: {} as Record<string, number>, stop: () => {} };
  const spillRoot = join(tmpdir(), 'cloudflink-spill');
  const timer = setInterval(() => {
    for (const [name, memory] of Object.entries(memoryOfAll(pids))) state.maxRss[name] = Math.max(state.maxRss[name] ?? 0, memory.rssBytes);
    if (state.jobId === undefined) return;
    let bytes = 0;
    try {
      for (const dir of readdirSync(spillRoot)) {
        if (!dir.startsWith(`${state.jobId}-`)) continue;
        for (const file of readdirSync(join(spillRoot, dir))) {
          try { bytes += statSync(join(spillRoot, dir, file)).size; } catch { /* removed meanwhile */ }
        }
      }
    } catch {
      // No spill directory (yet, or any more).
    }
    state.peakSpillBytes = Math.max(state.peakSpillBytes, bytes);
  }, 250);
  state.stop = () => clearInterval(timer);
  return state;
}

function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not Linux, or not ours: the peak is then the process's lifetime high-water mark.
  }
}

// ---------------------------------------------------------------- jobs and the report

interface JobRun { seconds: number; wallSeconds: number; result: JobResult; cpuSeconds: Record<string, number> }

async function timedJob(env: ExecutionEnvironment, name: string, pids: Pids, submitted?: (jobId: string) => void): Promise<JobRun> {
  const cpu = cpuMeter(pids);
  const started = performance.now();
  const handle = await env.execute(name);
  submitted?.(handle.jobId);
  const result = await handle.result();
  const wallSeconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpu();
  if (result.state !== 'FINISHED') throw new Error(`job ${name} (${handle.jobId}) ended ${result.state}${result.cause ? `: ${result.cause}` : ''}`);
  return { seconds: (result.durationMs ?? Number.NaN) / 1000, wallSeconds, result, cpuSeconds };
}

function vertexLine(result: JobResult): string {
  return `records in → out (busy s): ${result.vertices.map((v) => `${v.name}×${v.parallelism} ${v.recordsIn} → ${v.recordsOut} (${(v.busyMs / 1000).toFixed(1)})`).join(', ')}`;
}

const COLUMNS: { title: string; cell(row: BatchRow): string }[] = [
  { title: 'bench', cell: (r) => r.bench },
  { title: 'system', cell: (r) => r.system },
  { title: 'records', cell: (r) => r.records.toLocaleString('en-US') },
  { title: 'seconds', cell: (r) => r.seconds.toFixed(2) },
  { title: 'wall s', cell: (r) => r.wallSeconds.toFixed(2) },
  { title: 'records/s', cell: (r) => Math.round(r.recordsPerSecond).toLocaleString('en-US') },
  { title: '× plain', cell: (r) => (r.vsPlain >= 0.1 ? r.vsPlain.toFixed(2) : r.vsPlain.toPrecision(2)) },
  { title: 'peak RSS MB', cell: (r) => (r.peakRssBytes ? peakCell(r.peakRssBytes) : '') },
  { title: 'spill MB', cell: (r) => (r.peakSpillBytes === undefined ? '' : mb(r.peakSpillBytes)) },
  { title: 'verified', cell: (r) => r.verified },
];

function peakCell(peaks: Record<string, number>): string {
  return Object.entries(peaks).map(([name, bytes]) => `${name.replace(/^tm-?/, 'tm')} ${Math.round(bytes / 1024 / 1024)}`).join(', ');
}

const LEGEND = [
  'seconds: in-process rows time their loop, reading the input included; cloudflink rows the job\'s durationMs, submission → FINISHED.',
  'wall s: for cloudflink, execute() → result() in this client.',
  '× plain: records/s against the plain loop of the same bench (1 core; the cluster runs p=2 on 2 cores).',
  'wordcount records are words; tpch records are the input rows of the three tables; sort records are { k, payload }.',
  'sort × plain: against Array.prototype.sort in this process, generation included on both sides, scaled to as many records',
  '  when fewer fit in the heap. Peak RSS: VmHWM of each process, reset just before the job; spill MB: the most the job\'s',
  '  spill directories held at once, sampled every 250 ms.',
];

export function formatBatchReport(report: BatchReport): string {
  const { machine } = report;
  const header = `Batch (DataSet API), ${machine.cpus} cores, node ${machine.node}, load average ${machine.loadAverage.toFixed(1)} at the start`;
  return ['', header, '', formatColumns(COLUMNS, report.rows, new Set([0, 1, 7, 9])), '', ...LEGEND, ...report.notes, ''].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const usage = 'usage: node --import tsx scripts/bench/batch.ts [--only wordcount|tpch|sort] [--mb 20] [--scale 0.1] [--sort-records 10000000] [--memory-mb 64] [--sort-heartbeat-timeout MS] [--json PATH]\n';
  const { text, number, fail } = commandLine({
    only: {}, mb: { default: '20' }, scale: { default: '0.1' }, 'sort-records': { default: String(DEFAULT_SORT_RECORDS) }, 'memory-mb': { default: '64' }, 'sort-heartbeat-timeout': {}, json: {},
  }, usage);
  const only = text('only');
  if (only !== undefined && !(BATCH_PARTS as readonly string[]).includes(only)) fail(`--only expects ${BATCH_PARTS.join(' or ')}, got '${only}'`);
  const scope = new Scope();
  process.once('SIGINT', () => void scope.close().finally(() => process.exit(130)));
  const started = performance.now();
  const progress = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
  try {
    const report = await batchBench({
      parts: only ? [only as BatchPart] : [...BATCH_PARTS], mb: number('mb', { min: 0.001, whole: false }), scale: number('scale', { min: 0.001, whole: false }),
      sortRecords: number('sort-records'), memoryPerSlotMb: number('memory-mb'), parallelism: 2, seed: 42,
      ...(text('sort-heartbeat-timeout') === undefined ? {} : { sortHeartbeatTimeoutMs: number('sort-heartbeat-timeout', { min: 500 }) }),
    }, scope, progress);
    process.stdout.write(formatBatchReport(report));
    const json = text('json') ?? join(tmpdir(), `cloudflink-bench-batch-${report.startedAt.replace(/[:.]/g, '-')}.json`);
    writeJson(json, report);
    process.stdout.write(`JSON: ${json}\n`);
    if (!batchExact(report)) process.exitCode = 1;
  } finally {
    await scope.close();
  }
}
