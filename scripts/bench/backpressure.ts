/**
 * Backpressure: a source asked for R records/s (about 200 bytes each) on 2 Task Manager
 * processes, keyBy → an operator slowed by a busy-wait to 1 % of R → a sink. Credit-based flow
 * control should push the slowness back to the source: its effective rate falls to about 1 % of
 * R, no process's memory grows, no frame is dropped, and NATS never sees a slow consumer.
 *
 * The job is bounded (count = 1 % of R × seconds) rather than cancelled after `seconds`: when it
 * FINISHES every task reports its final counters and nothing is in flight, so source records out
 * = slow records in = sink records in, and source frames out = slow frames in, hold exactly. After
 * a cancel the counters would be the last heartbeats', taken at different moments, and what was
 * queued at the cancel would be gone by design: only an inequality could be checked.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamExecutionEnvironment } from '../../lib/api/index.ts';
import { ClusterClient, type VertexMetrics } from '../../lib/client/index.ts';
import { startLocalCluster } from '../../lib/cluster/local.ts';
import { encodeFrame } from '../../lib/codec/index.ts';
import { loadConfig } from '../../lib/config/index.ts';
import { freePort, startLocalNats } from '../../lib/nats-server/index.ts';
import { cpuMeter, formatCpu, machineMeter, type Pids } from './cpu.ts';
import { at, JobWatch } from './job-watch.ts';
import { crossesProcesses, formatPlacement, placementOf } from './latency.ts';
import { formatColumns } from './report.ts';
import { mb, memoryOfAll } from './rss.ts';
import type { Scope } from './scope.ts';
import type { Progress } from './wordcount.ts';

export interface BackpressureOptions {
  /** R: records per second the source is asked for, over its 2 subtasks. */
  rate: number;
  /** How long the job runs at the slowed rate. */
  seconds: number;
  /** The slowed operator's capacity as a share of R. */
  slowShare: number;
  /** A record's size in a frame on the wire, roughly. */
  recordBytes: number;
  keys: number;
  /** The Task Managers' heartbeat timeout; the shipped 3 s by default (a slowed instance yields between records). */
  heartbeatTimeoutMs: number;
}

/** The targets the figures are printed against (reported, never asserted). */
export const BACKPRESSURE_GOALS = {
  /** Per process, from shortly after the start to the end. */
  rssGrowthMb: 50,
  framesDropped: 0,
  slowConsumers: 0,
};

const PARALLELISM = 2;
const SAMPLE_MS = 1000;

/** One process's RSS in bytes at the moments the report compares. */
export interface ProcessMemory {
  name: string;
  /** Before the job was submitted: the cluster idle. */
  idleBytes?: number;
  /** The first sample `startAfterMs` or more after the job was RUNNING: buffers full, code warm. */
  startBytes?: number;
  /** The last sample before FINISHED. */
  endBytes?: number;
  /** The highest RSS sampled while the job ran. */
  maxSampledBytes?: number;
  /** VmHWM after the job: the most the process ever held, start-up included. */
  peakBytes?: number;
}

export interface Sample {
  /** ms after RUNNING. */
  atMs: number;
  sourceRecordsOut: number;
  slowRecordsIn: number;
  /** Frames queued at inputs plus waiting for credit at outputs, summed per vertex. */
  queuedFrames: Record<string, number>;
  rssBytes: Record<string, number>;
  slowConsumers?: number;
  /** The most bytes NATS held for any one connection, per /connz. */
  natsPendingBytes?: number;
}

export interface BackpressureReport {
  benchmark: 'backpressure';
  startedAt: string;
  machine: { cpus: number; node: string; platform: string; loadAverage: number; loadAverageAtEnd: number };
  goals: typeof BACKPRESSURE_GOALS;
  options: BackpressureOptions;
  /** The job's size: slowShare × rate × seconds. */
  count: number;
  busyMsPerRecord: number;
  padChars: number;
  credits: number;
  runningSeconds: number;
  /** count ÷ RUNNING → FINISHED. */
  sourceRate: number;
  /** Source records out per second from startAfterMs (the buffers full) until it had emitted nearly all. */
  steadySourceRate: number;
  /** The slowed operator's records in per second over the same samples: what it really managed on this machine. */
  steadySlowRate: number;
  startAfterMs: number;
  memory: ProcessMemory[];
  /** Which Task Manager ran each subtask, by vertex name. */
  placement: Record<string, string[]>;
  vertices: VertexMetrics[];
  records: { source: number; slowIn: number; slowOut: number; sinkIn: number };
  /** dropped: frames the source sent that the slowed operator never received; framesLost: the engine's own count (sequence gaps). */
  frames: { sourceOut: number; slowIn: number; dropped: number; framesLost: number };
  slowConsumers: { before?: number; after?: number };
  natsPeakPendingBytes?: number;
  samples: Sample[];
  cpuSeconds: Record<string, number>;
  otherCpuSeconds?: number;
  /** 'exact', or what does not add up. */
  check: string;
}

// The user functions below travel as source text: they read `params`, never this module.

function padded(i: number): { k: number; i: number; pad: string } {
  return { k: i % params.keys, i, pad: params.pad };
}

function slowDown<T>(record: T): T[] {
  const until = performance.now() + params.busyMs;
  while (performance.now() < until) {
    // Busy: the capacity of this operator is 1000 / busyMs records per second per subtask.
  }
  return [record];
}

export async function backpressureBench(options: BackpressureOptions, scope: Scope, progress: Progress): Promise<BackpressureReport> {
  const startedAt = new Date().toISOString();
  const loadAverage = loadavg()[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'cloudflink-bench-backpressure-'));
  scope.defer('remove the temp dir', () => rmSync(dir, { recursive: true, force: true }));
  const slowRate = options.rate * options.slowShare;
  const count = Math.round(slowRate * options.seconds);
  const busyMsPerRecord = (PARALLELISM * 1000) / slowRate;
  const padChars = padFor(options.recordBytes);
  const startAfterMs = Math.min(5000, (options.seconds * 1000) / 4);

  const { cluster, client, pids, monitor } = await startMonitoredCluster(options, dir, scope, progress);
  const idle = memoryOfAll(pids);
  const slowConsumersBefore = (await monitor.varz())?.slow_consumers;

  const env = new StreamExecutionEnvironment(client, {
    parallelism: PARALLELISM,
    params: { keys: options.keys, pad: 'x'.repeat(padChars), busyMs: busyMsPerRecord },
  });
  const source = env.generate(count, padded, { ratePerSecond: options.rate });
  const slow = source.keyBy('k').process(slowDown);
  const sink = slow.discard();
  progress(`backpressure: ${count.toLocaleString('en-US')} records of ~${options.recordBytes} bytes, source asked for ` +
    `${options.rate.toLocaleString('en-US')}/s, the slowed operator busy ${busyMsPerRecord.toFixed(2)} ms per record ` +
    `(${slowRate.toLocaleString('en-US')}/s over ${PARALLELISM} subtasks): about ${options.seconds} s`);
  const cpu = cpuMeter(pids);
  const machine = machineMeter();
  const handle = await env.execute('backpressure-bench');
  const watch = JobWatch.follow(client, handle.jobId);
  const running = await watch.state('RUNNING', 0, 60_000, 'CREATED');
  const end = watch.ended((options.seconds * 10 + 120) * 1000);
  const samples = await sampleUntil(end, () => takeSample(client, handle.jobId, at(running), pids, monitor, source.id, slow.id), (sample) =>
    progress(`backpressure: ${(sample.atMs / 1000).toFixed(0)} s: source ${sample.sourceRecordsOut.toLocaleString('en-US')} of ` +
      `${count.toLocaleString('en-US')} records out; RSS MB ${Object.entries(sample.rssBytes).map(([n, b]) => `${n} ${mb(b)}`).join(', ')}`));
  const finished = await end;
  const cpuSeconds = cpu();
  const machineSeconds = machine();
  if (finished.to !== 'FINISHED') {
    throw new Error(`the backpressure job ${handle.jobId} ended ${finished.to}: ${finished.cause ?? 'no cause given'}\n` +
      `the nodes' last log lines:\n${logTail(join(dir, 'logs'), 10)}`);
  }
  const peaks = memoryOfAll(pids);
  const slowConsumersAfter = (await monitor.varz())?.slow_consumers;
  const result = await handle.result();
  const runningSeconds = (at(finished) - at(running)) / 1000;
  progress(`backpressure: FINISHED after ${runningSeconds.toFixed(1)} s running`);

  const vertex = (id: string): VertexMetrics => {
    const found = result.vertices.find((v) => v.vertexId === id);
    if (!found) throw new Error(`the job's result has no vertex ${id}`);
    return found;
  };
  const [sourceMetrics, slowMetrics, sinkMetrics] = [vertex(source.id), vertex(slow.id), vertex(sink.id)];
  const records = { source: sourceMetrics.recordsOut, slowIn: slowMetrics.recordsIn, slowOut: slowMetrics.recordsOut, sinkIn: sinkMetrics.recordsIn };
  const frames = {
    sourceOut: sourceMetrics.framesOut, slowIn: slowMetrics.framesIn, dropped: sourceMetrics.framesOut - slowMetrics.framesIn,
    framesLost: result.vertices.reduce((lost, v) => lost + v.framesLost, 0),
  };
  const ours = Object.values(cpuSeconds).reduce((sum, seconds) => sum + seconds, 0);
  const pending = samples.flatMap((sample) => (sample.natsPendingBytes === undefined ? [] : [sample.natsPendingBytes]));
  return {
    benchmark: 'backpressure',
    startedAt,
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}`, loadAverage, loadAverageAtEnd: loadavg()[0]! },
    goals: BACKPRESSURE_GOALS,
    options,
    count,
    busyMsPerRecord,
    padChars,
    credits: cluster.config.network.credits,
    runningSeconds,
    sourceRate: count / runningSeconds,
    steadySourceRate: steadyRate(samples, startAfterMs, count, (sample) => sample.sourceRecordsOut),
    steadySlowRate: steadyRate(samples, startAfterMs, count, (sample) => sample.slowRecordsIn),
    startAfterMs,
    memory: Object.keys(pids).map((name) => processMemory(name, samples, startAfterMs, idle[name]?.rssBytes, peaks[name]?.peakBytes)),
    placement: placementOf(watch.events),
    vertices: result.vertices,
    records,
    frames,
    slowConsumers: { before: slowConsumersBefore, after: slowConsumersAfter },
    natsPeakPendingBytes: pending.length > 0 ? Math.max(...pending) : undefined,
    samples,
    cpuSeconds,
    otherCpuSeconds: machineSeconds === undefined ? undefined : Math.max(0, machineSeconds - ours),
    check: checkCounts(count, records, frames),
  };
}

/**
 * nats-server with its monitoring port (/varz: slow_consumers; /connz: bytes pending per
 * connection), and a Job Manager and 2 Task Managers × 2 slots on it, every slot free.
 */
async function startMonitoredCluster(options: BackpressureOptions, dir: string, scope: Scope, progress: Progress) {
  const monitorPort = await freePort();
  progress(`backpressure: starting nats-server (monitoring on port ${monitorPort}), a Job Manager and 2 Task Managers × 2 slots`);
  const nats = await startLocalNats({ args: ['-m', String(monitorPort)] });
  scope.defer('stop nats-server', () => nats.stop());
  const cluster = await startLocalCluster({
    config: loadConfig({ overrides: { log: { level: 'warn' }, heartbeat: { intervalMs: 500, timeoutMs: options.heartbeatTimeoutMs } } }),
    natsUrl: nats.url,
    taskManagers: 2,
    slots: 2,
    taskManagerStdout: 'ignore',
    logDir: join(dir, 'logs'),
  });
  scope.defer('stop the cluster', () => cluster.stop());
  const client = await ClusterClient.connect(cluster.config);
  scope.defer('close the client', () => client.close());
  await allSlotsFree(client, 4);
  const pids: Pids = {
    'nats-server': nats.process.pid,
    jobmanager: cluster.jobManager.pid,
    ...Object.fromEntries([...cluster.taskManagers].map(([tmId, child]) => [tmId, child.pid])),
  };
  return { cluster, client, pids, monitor: natsMonitor(monitorPort) };
}

/** A sample every SAMPLE_MS until `end` settles; `report` hears one every 10 s. */
async function sampleUntil(end: Promise<unknown>, take: () => Promise<Sample>, report: (sample: Sample) => void): Promise<Sample[]> {
  let ended = false;
  const over = end.then(() => { ended = true; }, () => { ended = true; });
  const samples: Sample[] = [];
  let reportedAt = 0;
  for (;;) {
    await Promise.race([over, new Promise((r) => setTimeout(r, SAMPLE_MS))]);
    if (ended) return samples;
    const sample = await take();
    samples.push(sample);
    if (sample.atMs - reportedAt >= 10_000) {
      reportedAt = sample.atMs;
      report(sample);
    }
  }
}

function processMemory(name: string, samples: Sample[], startAfterMs: number, idleBytes?: number, peakBytes?: number): ProcessMemory {
  const sampled = samples.flatMap((sample) => (name in sample.rssBytes ? [{ atMs: sample.atMs, bytes: sample.rssBytes[name]! }] : []));
  return {
    name,
    idleBytes,
    startBytes: sampled.find((s) => s.atMs >= startAfterMs)?.bytes,
    endBytes: sampled.at(-1)?.bytes,
    maxSampledBytes: sampled.length > 0 ? Math.max(...sampled.map((s) => s.bytes)) : undefined,
    peakBytes,
  };
}

/**
 * Records per second of a counter from the first sample at or after `fromMs` to the last one
 * before the source had emitted all `count` (after that only the buffers drain).
 */
function steadyRate(samples: Sample[], fromMs: number, count: number, counter: (sample: Sample) => number): number {
  const steady = samples.filter((sample) => sample.atMs >= fromMs && sample.sourceRecordsOut < count);
  const first = steady[0];
  const last = steady.at(-1);
  if (!first || !last || last === first) return Number.NaN;
  return (counter(last) - counter(first)) / ((last.atMs - first.atMs) / 1000);
}

/** Waits until every slot is offered and free (a job before may still be releasing them). */
async function allSlotsFree(client: ClusterClient, slots: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await client.cluster().catch(() => undefined);
    if (view?.freeSlots === slots) return;
    if (Date.now() > deadline) throw new Error(`the cluster had ${view?.freeSlots ?? '?'} of ${slots} slots free after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The last lines of every node's log, to explain a failure before the temp dir goes. */
function logTail(logDir: string, lines: number): string {
  if (!existsSync(logDir)) return '';
  return readdirSync(logDir).sort().flatMap((file) => {
    const tail = readFileSync(join(logDir, file), 'utf8').split('\n').filter((line) => line !== '').slice(-lines);
    return tail.length === 0 ? [] : [`--- ${file}`, ...tail];
  }).join('\n');
}

/** True when no record and no frame went missing (the targets being missed is news, not an error). */
export function backpressureExact(report: BackpressureReport): boolean {
  return report.check === 'exact';
}

/** The pad that makes a record take about `bytes` in a frame (msgpackr records: the keys are sent once per frame). */
function padFor(bytes: number): number {
  const perRecord = (pad: string): number => {
    const records = Array.from({ length: 100 }, (_, i) => ({ k: i % 1000, i: 1_000_000 + i, pad }));
    return encodeFrame({ s: 0, a: 0, r: records }).length / 100;
  };
  return Math.max(0, Math.round(bytes - perRecord('')));
}

function checkCounts(count: number, records: BackpressureReport['records'], frames: BackpressureReport['frames']): string {
  const problems: string[] = [];
  if (records.source !== count) problems.push(`the source emitted ${records.source} of ${count} records`);
  if (records.slowIn !== records.source) problems.push(`the slowed operator received ${records.slowIn} of ${records.source} records`);
  if (records.sinkIn !== records.slowOut) problems.push(`the sink received ${records.sinkIn} of ${records.slowOut} records`);
  if (frames.dropped !== 0) problems.push(`${frames.dropped} frames sent were not received`);
  if (frames.framesLost !== 0) problems.push(`the engine counted ${frames.framesLost} frames lost`);
  return problems.length === 0 ? 'exact' : `NOT exact: ${problems.join('; ')}`;
}

interface NatsMonitor {
  varz(): Promise<{ slow_consumers: number } | undefined>;
  /** The most bytes pending on one connection. */
  maxPendingBytes(): Promise<number | undefined>;
}

function natsMonitor(port: number): NatsMonitor {
  const get = async <T>(path: string): Promise<T | undefined> => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
      return response.ok ? (await response.json()) as T : undefined;
    } catch {
      // A missed reading shows as a gap, not a failed run.
      return undefined;
    }
  };
  return {
    varz: () => get<{ slow_consumers: number }>('/varz'),
    async maxPendingBytes() {
      const connz = await get<{ connections?: { pending_bytes?: number }[] }>('/connz');
      return connz?.connections ? Math.max(0, ...connz.connections.map((c) => c.pending_bytes ?? 0)) : undefined;
    },
  };
}

async function takeSample(client: ClusterClient, jobId: string, runningAt: number, pids: Pids, monitor: NatsMonitor, sourceId: string, slowId: string): Promise<Sample> {
  const atMs = Date.now() - runningAt;
  const rssBytes = Object.fromEntries(Object.entries(memoryOfAll(pids)).map(([name, m]) => [name, m.rssBytes]));
  const [status, varz, natsPendingBytes] = await Promise.all([
    client.status(jobId).catch(() => undefined), monitor.varz(), monitor.maxPendingBytes(),
  ]);
  const byId = new Map(status?.vertices.map((v) => [v.vertexId, v]));
  return {
    atMs,
    sourceRecordsOut: byId.get(sourceId)?.recordsOut ?? 0,
    slowRecordsIn: byId.get(slowId)?.recordsIn ?? 0,
    queuedFrames: Object.fromEntries(status?.vertices.map((v) => [v.name, v.queuedFrames]) ?? []),
    rssBytes,
    slowConsumers: varz?.slow_consumers,
    natsPendingBytes,
  };
}

interface MemoryRow {
  name: string;
  idle?: number;
  start?: number;
  end?: number;
  growth?: number;
  max?: number;
  peak?: number;
}

const MEMORY_COLUMNS: { title: string; cell(row: MemoryRow): string }[] = [
  { title: 'process', cell: (r) => r.name },
  { title: 'idle MB', cell: (r) => megabytes(r.idle) },
  { title: 'start MB', cell: (r) => megabytes(r.start) },
  { title: 'end MB', cell: (r) => megabytes(r.end) },
  { title: 'growth MB', cell: (r) => (r.growth === undefined ? '?' : `${r.growth >= 0 ? '+' : ''}${mb(r.growth)}`) },
  // The peaks of different processes come at different moments: no total for them.
  { title: 'max sampled MB', cell: (r) => (r.name === 'all' ? '' : megabytes(r.max)) },
  { title: 'peak (VmHWM) MB', cell: (r) => (r.name === 'all' ? '' : megabytes(r.peak)) },
];

interface CheckRow {
  measure: string;
  value: string;
  goal?: string;
  met?: boolean;
}

const CHECK_COLUMNS: { title: string; cell(row: CheckRow): string }[] = [
  { title: 'measure', cell: (r) => r.measure },
  { title: 'value', cell: (r) => r.value },
  { title: 'goal', cell: (r) => r.goal ?? '' },
  { title: 'met', cell: (r) => (r.met === undefined ? '' : r.met ? 'yes' : 'NO') },
];

const LEGEND = [
  'job: generate (p=2, paced) → keyBy → process (a busy-wait per record) → discard (chained), on 2 Task Manager processes × 2 slots;',
  '  bounded, so that it FINISHES with every task\'s final counters: records and frames must then add up exactly.',
  'RSS: VmRSS from /proc/<pid>/status: idle = before submission; start = the first sample after the buffers filled;',
  '  end = the last sample before FINISHED; growth = end − start; max sampled = the highest of the 1 s samples while running;',
  '  peak = VmHWM after the job (the most the process ever held, start-up included).',
  'frames dropped: the source\'s frames out − the slowed operator\'s frames in (exact at FINISHED); framesLost: the engine\'s own count.',
  'slow consumers: nats-server /varz slow_consumers, cumulative since it started; NATS pending: the most bytes /connz showed',
  '  waiting for one connection in any sample.',
  'rates, steady: records per second from the start sample to the last before the source had emitted all (the Job Manager\'s',
  '  counters, from heartbeats every 500 ms, late when a Task Manager\'s event loop is held);',
  '  the source at the slowed operator\'s rate, not R, means backpressure reached it. A busy-wait overshoots when the machine is busy',
  '  (the process is descheduled mid-wait), so the slowed operator can fall below its nominal rate; the job then runs longer.',
  '  whole run: count ÷ RUNNING → FINISHED. Source waiting for credit: its time with a frame waiting for credit; the rest it mostly',
  '  waited for its event loop, which it shares with the slowed instance of its Task Manager.',
  'peak queued frames: the most frames one input channel held (at most the credits it granted); peak waiting: the most frames',
  '  one output channel held waiting for credit.',
];

export function formatBackpressureReport(report: BackpressureReport): string {
  const { machine, goals, options, records, frames } = report;
  const growth = (m: ProcessMemory): number | undefined => (m.startBytes !== undefined && m.endBytes !== undefined ? m.endBytes - m.startBytes : undefined);
  const memoryRows: MemoryRow[] = report.memory.map((m) => ({
    name: m.name, idle: m.idleBytes, start: m.startBytes, end: m.endBytes, growth: growth(m), max: m.maxSampledBytes, peak: m.peakBytes,
  }));
  const growths = report.memory.flatMap((m) => { const g = growth(m); return g === undefined ? [] : [g]; });
  memoryRows.push({
    name: 'all',
    idle: sum(report.memory.map((m) => m.idleBytes)), start: sum(report.memory.map((m) => m.startBytes)),
    end: sum(report.memory.map((m) => m.endBytes)), growth: growths.length > 0 ? growths.reduce((a, b) => a + b, 0) : undefined,
  });
  const largestGrowth = growths.length > 0 ? Math.max(...growths) : Number.NaN;
  const slowConsumers = report.slowConsumers.after;
  const slowRate = options.rate * options.slowShare;
  const vertexRows = report.vertices.map((v) =>
    `  ${v.name} ×${v.parallelism}: records ${v.recordsIn.toLocaleString('en-US')} in, ${v.recordsOut.toLocaleString('en-US')} out; ` +
    `frames ${v.framesIn.toLocaleString('en-US')} in, ${v.framesOut.toLocaleString('en-US')} out; busy ${(v.busyMs / 1000).toFixed(1)} s, ` +
    `backpressured ${(v.backpressuredMs / 1000).toFixed(1)} s; peak queued ${v.peakQueuedFrames}, peak waiting ${v.peakWaitingFrames} frames` +
    `; frames lost ${v.framesLost}`);
  const source = report.vertices[0];
  const peakQueued = Math.max(...report.vertices.map((v) => v.peakQueuedFrames));
  const peakWaiting = Math.max(...report.vertices.map((v) => v.peakWaitingFrames));
  const checks: CheckRow[] = [
    { measure: 'records: source out / slowed in / sink in', value: `${records.source.toLocaleString('en-US')} / ${records.slowIn.toLocaleString('en-US')} / ${records.sinkIn.toLocaleString('en-US')}`, goal: `all ${report.count.toLocaleString('en-US')}`, met: report.check === 'exact' },
    { measure: 'frames dropped (source out − slowed in)', value: `${frames.dropped} (${frames.sourceOut.toLocaleString('en-US')} − ${frames.slowIn.toLocaleString('en-US')})`, goal: `${goals.framesDropped}`, met: frames.dropped === goals.framesDropped },
    { measure: 'frames lost, as the engine counts them', value: `${frames.framesLost}`, goal: `${goals.framesDropped}`, met: frames.framesLost === goals.framesDropped },
    { measure: 'NATS slow consumers', value: slowConsumers === undefined ? '?' : `${slowConsumers}`, goal: `${goals.slowConsumers}`, met: slowConsumers === undefined ? undefined : slowConsumers === goals.slowConsumers },
    { measure: 'NATS pending bytes, peak sampled', value: report.natsPeakPendingBytes === undefined ? '?' : report.natsPeakPendingBytes.toLocaleString('en-US') },
    { measure: 'RSS growth, largest per process', value: `${mb(largestGrowth)} MB`, goal: `< ${goals.rssGrowthMb} MB`, met: largestGrowth < goals.rssGrowthMb * 1024 * 1024 },
    { measure: 'slowed operator rate, steady (÷ R)', value: `${rate(report.steadySlowRate)}/s (${percent(report.steadySlowRate / options.rate)})`, goal: `${rate(slowRate)}/s by its busy-wait` },
    { measure: 'source rate, steady (÷ R)', value: `${rate(report.steadySourceRate)}/s (${percent(report.steadySourceRate / options.rate)})`, goal: '≈ the slowed operator\'s', met: Math.abs(report.steadySourceRate / report.steadySlowRate - 1) <= 0.1 },
    { measure: 'source rate, whole run (÷ R)', value: `${rate(report.sourceRate)}/s (${percent(report.sourceRate / options.rate)})` },
    { measure: 'source waiting for credit', value: source ? `${percent(source.backpressuredMs / PARALLELISM / 1000 / report.runningSeconds)} of its time` : '?' },
    { measure: 'peak queued frames per input channel', value: `${peakQueued}`, goal: `≤ ${report.credits} (credits)`, met: peakQueued <= report.credits },
    { measure: 'peak frames waiting per output channel', value: `${peakWaiting}` },
  ];
  const header = [
    `Backpressure, ${machine.cpus} cores, node ${machine.node}, load average ${machine.loadAverage.toFixed(1)} at the start, ${machine.loadAverageAtEnd.toFixed(1)} at the end`,
    `  source asked for ${rate(options.rate)} records/s of ~${options.recordBytes} bytes; the slowed operator takes ${report.busyMsPerRecord.toFixed(2)} ms per record ` +
      `(${rate(slowRate)}/s over ${PARALLELISM} subtasks, ${percent(options.slowShare)} of R); ${report.count.toLocaleString('en-US')} records, ` +
      `RUNNING → FINISHED in ${report.runningSeconds.toFixed(1)} s; start sample ${(report.startAfterMs / 1000).toFixed(0)} s in`,
    `  heartbeat timeout ${(options.heartbeatTimeoutMs / 1000).toFixed(0)} s${options.heartbeatTimeoutMs > 3000 ? ' (raised from the shipped 3 s)' : ''}; ` +
      `placement: ${formatPlacement(report.placement)}`,
  ];
  const notes = [
    ...vertexRows,
    `CPU seconds during the job: ${formatCpu(report.cpuSeconds)}` +
      (report.otherCpuSeconds === undefined ? '' : `; others on the machine meanwhile: ${report.otherCpuSeconds.toFixed(1)}`),
  ];
  if (report.check !== 'exact') notes.push(`WRONG: ${report.check}`);
  if (!crossesProcesses(report.placement)) notes.push('NOT SPREAD: a vertex ran all its subtasks in one Task Manager, so no frame crossed NATS');
  const others = report.otherCpuSeconds === undefined ? undefined : report.otherCpuSeconds / (machine.cpus * report.runningSeconds);
  if (others !== undefined && others > 0.1) notes.push(`DISTURBED: other processes used ${(others * 100).toFixed(0)} % of the machine's CPU during the run`);
  return ['', ...header, '', formatColumns(MEMORY_COLUMNS, memoryRows, new Set([0])), '',
    formatColumns(CHECK_COLUMNS, checks, new Set([0, 1, 2, 3])), '', ...LEGEND, '', ...notes, ''].join('\n');
}

function sum(values: (number | undefined)[]): number | undefined {
  return values.every((v) => v !== undefined) ? values.reduce((a: number, b) => a + b!, 0) : undefined;
}

function megabytes(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? '?' : mb(bytes);
}

function rate(v: number): string {
  return Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '?';
}

function percent(share: number): string {
  if (!Number.isFinite(share)) return '?';
  return `${(share * 100).toFixed(share < 0.1 ? 2 : 1)} %`;
}
