/**
 * End-to-end latency on 2 Task Manager processes: each record is stamped with the wall clock
 * when the source emits it, and its latency is taken in the operator chained after the keyed
 * one, after the last network hop. First the pipeline's maximum throughput, unpaced; then the
 * same pipeline paced at half that rate; then an in-process RxJS pipeline at the same rate,
 * measured the same way, as the baseline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupBy, map, mergeMap, Subject } from 'rxjs';
import { StreamExecutionEnvironment, type ProcessContext } from '../../lib/api/index.ts';
import type { JobResult } from '../../lib/client/index.ts';
import type { LifecycleEvent } from '../../lib/events/index.ts';
import { startCountingCluster, withLogs, type CountingCluster } from './counting-cluster.ts';
import { cpuMeter, formatCpu, machineMeter } from './cpu.ts';
import { at, JobWatch } from './job-watch.ts';
import { formatColumns } from './report.ts';
import type { Scope } from './scope.ts';
import type { Progress } from './wordcount.ts';

export interface LatencyOptions {
  /** How long the paced runs last, at half the maximum throughput. */
  seconds: number;
  /** Records of the unpaced run that finds the maximum throughput (a warm-up of half as many goes first). */
  maxEvents: number;
  keys: number;
}

/** The goal the paced run's p99 is printed against (reported, never asserted). */
export const LATENCY_GOAL = { p99Ms: 20 };

/** Samples per run at most: well under the collect cap (jobManager.collectLimit, 100,000). */
const SAMPLES = 20_000;
/** Samples emitted in the first second of a run are left out of the "after 1 s" figures: the start-up transient. */
const SETTLE_MS = 1000;
const TIMELINE_MS = 250;

/** [emitted at (epoch ms), latency ms]. */
type Sample = [number, number];

export interface LatencyFigures {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  minMs: number;
}

export interface LatencyRun {
  name: string;
  records: number;
  /** What the source was asked for; undefined: unpaced. */
  targetRate?: number;
  /** records ÷ the emission span (first to last sampled stamp): the rate the source kept. */
  emittedPerSecond: number;
  /** RUNNING → FINISHED as the Job Manager stamped it; for the baseline, its loop's time. */
  seconds: number;
  /** records ÷ seconds. */
  recordsPerSecond: number;
  all: LatencyFigures;
  /** Samples emitted at least SETTLE_MS after the first. */
  settled: LatencyFigures;
  /** Per TIMELINE_MS of emission time from the first sample: how many records were emitted then, and their latencies. */
  timeline: { fromMs: number; records: number; p50Ms: number; p99Ms: number; maxMs: number }[];
  /** 'ok', or what was missing or wrong. */
  check: string;
  /** Whether the latency operator ran chained to the keyed one (it received no frames). */
  chained?: boolean;
  /** Which Task Manager ran each subtask, by vertex name: the keyed edge must cross processes. */
  placement?: Record<string, string[]>;
  cpuSeconds?: Record<string, number>;
  otherCpuSeconds?: number;
}

export interface LatencyReport {
  benchmark: 'latency';
  startedAt: string;
  machine: { cpus: number; node: string; platform: string; loadAverage: number; loadAverageAtEnd: number };
  goal: typeof LATENCY_GOAL;
  options: LatencyOptions;
  /** The unpaced run's records/s: the pipeline's maximum throughput here. */
  maxRecordsPerSecond: number;
  /** Half of it: the paced runs' rate. */
  pacedRate: number;
  runs: LatencyRun[];
  notes: string[];
}

export async function latencyBench(options: LatencyOptions, scope: Scope, progress: Progress): Promise<LatencyReport> {
  const startedAt = new Date().toISOString();
  const loadAverage = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'cloudflink-bench-latency-'));
  scope.defer('remove the temp dir', () => rmSync(dir, { recursive: true, force: true }));

  progress('latency: starting nats-server, a Job Manager and 2 Task Managers × 2 slots');
  const cluster = await startCountingCluster({ taskManagers: 2, slots: 2, dir }, scope);
  const { unpaced, paced, pacedRate, pacedCount } = await onCluster(cluster, options, progress).catch((error: unknown) => {
    throw withLogs(error, cluster);
  });
  // Gone before the baseline runs in this process.
  await cluster.stop();

  progress(`latency: RxJS Subject → groupBy in this process, paced at ${rate(pacedRate)} records/s for ${options.seconds} s`);
  const baseline = await rxjsRun('RxJS Subject, same rate', { count: pacedCount, rate: pacedRate, keys: options.keys });
  progress(`latency: RxJS: p50 ${ms(baseline.all.p50Ms)}, p99 ${ms(baseline.all.p99Ms)}, max ${ms(baseline.all.maxMs)} ms`);

  const notes: string[] = [];
  for (const run of [unpaced, paced]) {
    if (run.cpuSeconds) notes.push(`${run.name}: CPU seconds during the job: ${formatCpu(run.cpuSeconds)}` +
      (run.otherCpuSeconds === undefined ? '' : `; others on the machine meanwhile: ${run.otherCpuSeconds.toFixed(1)}`));
    if (run.chained === false) notes.push(`${run.name}: the latency operator received frames: it was NOT chained to the keyed one, so one more hop is in the figures`);
    if (run.placement) {
      notes.push(`${run.name}: placement: ${formatPlacement(run.placement)}`);
      if (!crossesProcesses(run.placement)) notes.push(`${run.name}: NOT SPREAD: a vertex ran all its subtasks in one Task Manager, so no record crossed NATS`);
    }
    const others = run.otherCpuSeconds === undefined ? undefined : run.otherCpuSeconds / (cpus().length * run.seconds);
    if (others !== undefined && others > 0.1) {
      notes.push(`DISTURBED: other processes used ${(others * 100).toFixed(0)} % of the machine's CPU during ${run.name}; its figures carry that noise`);
    }
    if (run.all.minMs < 0) notes.push(`${run.name}: the smallest latency is ${run.all.minMs.toFixed(2)} ms: the processes' clocks disagree by at least that much`);
  }
  return {
    benchmark: 'latency',
    startedAt,
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}`, loadAverage, loadAverageAtEnd: loadavg()[0]! },
    goal: LATENCY_GOAL,
    options,
    maxRecordsPerSecond: unpaced.recordsPerSecond,
    pacedRate,
    runs: [unpaced, paced, baseline],
    notes,
  };
}

/** A warm-up, the unpaced run that finds the maximum throughput, then the run at half of it. */
async function onCluster(cluster: CountingCluster, options: LatencyOptions, progress: Progress) {
  progress(`latency: warm-up, ${(options.maxEvents / 2).toLocaleString('en-US')} records unpaced (not reported)`);
  const warm = await clusterRun(cluster, 'warm-up', { count: Math.floor(options.maxEvents / 2), keys: options.keys });
  if (warm.check !== 'ok') throw new Error(`the warm-up run's check: ${warm.check}`);

  progress(`latency: maximum throughput, ${options.maxEvents.toLocaleString('en-US')} records unpaced`);
  const unpaced = await clusterRun(cluster, 'cloudflink, unpaced', { count: options.maxEvents, keys: options.keys });
  progress(`latency: unpaced: ${rate(unpaced.recordsPerSecond)} records/s; p99 ${ms(unpaced.all.p99Ms)} ms`);
  // A round rate, so that the paced runs' count is whole.
  const pacedRate = Math.max(100, Math.round(unpaced.recordsPerSecond / 2 / 100) * 100);
  const pacedCount = Math.round(pacedRate * options.seconds);

  progress(`latency: paced at ${rate(pacedRate)} records/s for ${options.seconds} s`);
  const paced = await clusterRun(cluster, 'cloudflink, half load', { count: pacedCount, rate: pacedRate, keys: options.keys });
  progress(`latency: half load: p50 ${ms(paced.all.p50Ms)}, p99 ${ms(paced.all.p99Ms)}, max ${ms(paced.all.maxMs)} ms`);
  return { unpaced, paced, pacedRate, pacedCount };
}

/** True when every run delivered every sample it should have. */
export function latencyExact(report: LatencyReport): boolean {
  return report.runs.every((run) => run.check === 'ok');
}

interface RunParams {
  count: number;
  /** Records per second over both source subtasks; unpaced when absent. */
  rate?: number;
  keys: number;
}

interface Stamped {
  k: number;
  i: number;
  /** Emitted at, epoch ms with sub-millisecond precision: the same clock in every process of this host. */
  t: number;
}

// The user functions below travel as source text: they read `params`, never this module.

function stamp(i: number): Stamped {
  return { k: i % params.keys, i, t: performance.timeOrigin + performance.now() };
}

function countPerKey(record: Stamped, ctx: ProcessContext<number>): Stamped[] {
  const seen = ctx.state.value<number>('seen');
  seen.update((seen.value() ?? 0) + 1);
  return [record];
}

function latencyOf(record: Stamped): Sample[] {
  return record.i % params.every === 0 ? [[record.t, performance.timeOrigin + performance.now() - record.t]] : [];
}

/** generate(p=2) → keyBy → process (a count per key) → flatMap (the latency, chained) → collect (chained). */
async function clusterRun(cluster: CountingCluster, name: string, run: RunParams): Promise<LatencyRun> {
  const { client } = cluster;
  // Every slot offered and free, so that the scheduler spreads the subtasks over both Task Managers.
  await cluster.whole();
  const every = Math.max(1, Math.ceil(run.count / SAMPLES));
  const env = new StreamExecutionEnvironment(client, { parallelism: 2, params: { keys: run.keys, every } });
  const keyed = env.generate(run.count, stamp, run.rate === undefined ? {} : { ratePerSecond: run.rate }).keyBy('k').process(countPerKey);
  const latency = keyed.flatMap(latencyOf);
  const sink = latency.collect();
  const cpu = cpuMeter(cluster.pids());
  const machine = machineMeter();
  const handle = await env.execute(`latency-bench-${run.rate === undefined ? 'unpaced' : `r${run.rate}`}`);
  const watch = JobWatch.follow(client, handle.jobId);
  const end = await watch.ended(10 * 60_000);
  const cpuSeconds = cpu();
  const machineSeconds = machine();
  if (end.to !== 'FINISHED') throw new Error(`the latency job ${handle.jobId} ended ${end.to}: ${end.cause ?? 'no cause given'}`);
  const running = await watch.state('RUNNING', 0, 1000, 'CREATED');
  const result = await handle.result();
  const samples = (result.collected[sink.id] ?? []) as Sample[];
  const ours = Object.values(cpuSeconds).reduce((sum, s) => sum + s, 0);
  return {
    ...figures(name, run, samples, (at(end) - at(running)) / 1000),
    check: check(samples, run.count, every, result, keyed.id),
    chained: (result.vertices.find((v) => v.vertexId === latency.id)?.framesIn ?? 0) === 0,
    placement: placementOf(watch.events),
    cpuSeconds,
    otherCpuSeconds: machineSeconds === undefined ? undefined : Math.max(0, machineSeconds - ours),
  };
}

/**
 * The baseline: the same records stamped by a paced producer (as the engine's source paces:
 * what is due, in batches, a 1 ms timer when ahead) into an RxJS Subject, grouped by key with
 * a count per key, the latency taken in the subscriber. No process boundary, no frames.
 */
async function rxjsRun(name: string, run: RunParams & { rate: number }): Promise<LatencyRun> {
  const every = Math.max(1, Math.ceil(run.count / SAMPLES));
  const samples: Sample[] = [];
  const seen = new Map<number, number>();
  const subject = new Subject<Stamped>();
  subject.pipe(
    groupBy((record) => record.k),
    mergeMap((group) => group.pipe(map((record) => {
      seen.set(group.key, (seen.get(group.key) ?? 0) + 1);
      return record;
    }))),
  ).subscribe((record) => {
    if (record.i % every === 0) samples.push([record.t, performance.timeOrigin + performance.now() - record.t]);
  });
  const started = performance.now();
  await new Promise<void>((resolve) => {
    let emitted = 0;
    const turn = (): void => {
      const turnStarted = performance.now();
      while (emitted < run.count && performance.now() - turnStarted < 5) {
        const due = Math.min(run.count, Math.floor(((performance.now() - started) / 1000) * run.rate));
        if (due <= emitted) break;
        for (const end = Math.min(due, emitted + 256); emitted < end; emitted++) {
          subject.next({ k: emitted % run.keys, i: emitted, t: performance.timeOrigin + performance.now() });
        }
      }
      if (emitted >= run.count) {
        subject.complete();
        resolve();
      } else if (Math.floor(((performance.now() - started) / 1000) * run.rate) > emitted) {
        setImmediate(turn);
      } else {
        setTimeout(turn, 1);
      }
    };
    turn();
  });
  const seconds = (performance.now() - started) / 1000;
  const expected = Math.ceil(run.count / every);
  return {
    ...figures(name, run, samples, seconds),
    check: samples.length === expected ? 'ok' : `WRONG: ${samples.length} of ${expected} samples`,
  };
}

function figures(name: string, run: RunParams, samples: Sample[], seconds: number): Omit<LatencyRun, 'check'> {
  const stamps = samples.map(([t]) => t);
  const first = stamps.length > 0 ? Math.min(...stamps) : Number.NaN;
  const last = stamps.length > 0 ? Math.max(...stamps) : Number.NaN;
  return {
    name,
    records: run.count,
    targetRate: run.rate,
    emittedPerSecond: run.count / ((last - first) / 1000),
    seconds,
    recordsPerSecond: run.count / seconds,
    all: latencyFigures(samples.map(([, latency]) => latency)),
    settled: latencyFigures(samples.filter(([t]) => t - first >= SETTLE_MS).map(([, latency]) => latency)),
    timeline: timeline(samples, first, Math.max(1, Math.ceil(run.count / SAMPLES))),
  };
}

/** Which Task Manager ran each subtask, by vertex name, from the task.state events. */
export function placementOf(events: LifecycleEvent[]): Record<string, string[]> {
  const placement: Record<string, string[]> = {};
  for (const event of events) {
    if (event.type !== 'task.state' || event.tmId === undefined) continue;
    (placement[event.vertexName] ??= [])[event.subtask] = event.tmId;
  }
  return placement;
}

/** True when every vertex with several subtasks ran them in more than one Task Manager. */
export function crossesProcesses(placement: Record<string, string[]>): boolean {
  return Object.values(placement).every((tms) => tms.length < 2 || new Set(tms).size > 1);
}

export function formatPlacement(placement: Record<string, string[]>): string {
  return Object.entries(placement).map(([vertex, tms]) => `${vertex} ${tms.map((tm, i) => `${i}→${tm}`).join(' ')}`).join('; ');
}

function timeline(samples: Sample[], first: number, every: number): LatencyRun['timeline'] {
  const bins = new Map<number, number[]>();
  for (const [t, latency] of samples) {
    const bin = Math.floor((t - first) / TIMELINE_MS);
    let latencies = bins.get(bin);
    if (!latencies) bins.set(bin, (latencies = []));
    latencies.push(latency);
  }
  return [...bins].sort(([a], [b]) => a - b).map(([bin, latencies]) => {
    const f = latencyFigures(latencies);
    return { fromMs: bin * TIMELINE_MS, records: latencies.length * every, p50Ms: f.p50Ms, p99Ms: f.p99Ms, maxMs: f.maxMs };
  });
}

/** Every sample came back (one per `every` records), and the keyed operator saw every record. */
function check(samples: Sample[], count: number, every: number, result: JobResult, keyedId: string): string {
  const problems: string[] = [];
  const expected = Math.ceil(count / every);
  if (samples.length !== expected) problems.push(`${samples.length} of ${expected} samples`);
  const keyedIn = result.vertices.find((v) => v.vertexId === keyedId)?.recordsIn;
  if (keyedIn !== count) problems.push(`the keyed operator saw ${keyedIn} of ${count} records`);
  if (samples.some(([t, latency]) => !Number.isFinite(t) || !Number.isFinite(latency))) problems.push('a sample is not a number');
  return problems.length === 0 ? 'ok' : `WRONG: ${problems.join('; ')}`;
}

function latencyFigures(latencies: number[]): LatencyFigures {
  const sorted = Float64Array.from(latencies).sort();
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  const quantile = (q: number): number => (sorted.length === 0 ? Number.NaN : sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!);
  let sum = 0;
  for (const latency of sorted) sum += latency;
  return {
    samples: sorted.length,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    maxMs: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    meanMs: sum / sorted.length,
    minMs: sorted.length === 0 ? Number.NaN : sorted[0]!,
  };
}

const COLUMNS: { title: string; cell(run: LatencyRun): string }[] = [
  { title: 'run', cell: (r) => r.name },
  { title: 'records', cell: (r) => r.records.toLocaleString('en-US') },
  { title: 'asked/s', cell: (r) => (r.targetRate === undefined ? 'unpaced' : rate(r.targetRate)) },
  { title: 'emitted/s', cell: (r) => rate(r.emittedPerSecond) },
  { title: 'records/s', cell: (r) => rate(r.recordsPerSecond) },
  { title: 'p50 ms', cell: (r) => ms(r.all.p50Ms) },
  { title: 'p99 ms', cell: (r) => ms(r.all.p99Ms) },
  { title: 'max ms', cell: (r) => ms(r.all.maxMs) },
  { title: 'p99 after 1 s', cell: (r) => ms(r.settled.p99Ms) },
  { title: 'max after 1 s', cell: (r) => ms(r.settled.maxMs) },
  { title: 'samples', cell: (r) => r.all.samples.toLocaleString('en-US') },
  { title: 'check', cell: (r) => r.check },
];

const LEGEND = [
  'pipeline: generate (p=2, each record stamped with performance.timeOrigin + performance.now() as it is emitted) → keyBy →',
  '  process (a count per key in keyed state) → flatMap (now − stamp, chained to the process, so after the last network hop) → collect;',
  '  on 2 Task Manager processes × 2 slots, half of the keyed records crossing NATS, half handed over in process.',
  'asked/s: the source\'s ratePerSecond; emitted/s: records ÷ the span of the sampled stamps (the rate the source kept);',
  '  records/s: records ÷ RUNNING → FINISHED as the Job Manager stamped it (for RxJS: its loop\'s time).',
  'half load: paced at half the unpaced run\'s records/s, measured in this run. Latencies are sampled (every k-th record, at most',
  `  ${SAMPLES.toLocaleString('en-US')} per run); "after 1 s" leaves out the records emitted in a run's first second (the start-up transient).`,
  'RxJS: the same records, stamped by a producer paced as the engine\'s source is, through Subject → groupBy → a count per key,',
  '  in this process: what the engine adds over an in-process pipeline at the same rate.',
  'check: every sample came back and the keyed operator saw every record.',
];

export function formatLatencyReport(report: LatencyReport): string {
  const { machine, goal, runs, options } = report;
  const paced = runs[1]!;
  const baseline = runs[2]!;
  const met = paced.all.p99Ms <= goal.p99Ms;
  const header = `Latency, ${options.keys.toLocaleString('en-US')} keys, ${machine.cpus} cores, node ${machine.node}, ` +
    `load average ${machine.loadAverage.toFixed(1)} at the start, ${machine.loadAverageAtEnd.toFixed(1)} at the end`;
  const summary = [
    `maximum throughput (unpaced): ${rate(report.maxRecordsPerSecond)} records/s; half load: ${rate(report.pacedRate)} records/s for ${options.seconds} s`,
    `half load p99: ${ms(paced.all.p99Ms)} ms, goal ≤ ${goal.p99Ms} ms: ${met ? 'met' : 'NOT met'}` +
      ` (after 1 s: ${ms(paced.settled.p99Ms)} ms, ${paced.settled.p99Ms <= goal.p99Ms ? 'met' : 'NOT met'})`,
    `cloudflink ÷ RxJS at the same rate: p50 ${times(paced.all.p50Ms / baseline.all.p50Ms)}, p99 ${times(paced.all.p99Ms / baseline.all.p99Ms)}, ` +
      `max ${times(paced.all.maxMs / baseline.all.maxMs)}`,
  ];
  return ['', header, '', formatColumns(COLUMNS, runs, new Set([0, 2, COLUMNS.length - 1])), '', ...summary, '', ...LEGEND, ...report.notes, ''].join('\n');
}

function rate(v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '?';
}

function ms(v: number): string {
  if (!Number.isFinite(v)) return '?';
  return v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : v.toPrecision(2);
}

function times(r: number): string {
  return Number.isFinite(r) ? `${r >= 10 ? Math.round(r).toLocaleString('en-US') : r.toFixed(1)}×` : '?';
}
