/**
 * What exactly-once checkpoints cost in throughput: the keyed counting job with checkpoints
 * and the same descriptor without its checkpointing section, run in turns on one cluster so
 * that both see the same machine. Each run's committed output is checked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckpointEvent } from '../../lib/events/index.ts';
import { startCountingCluster, withLogs, type CountingCluster } from './counting-cluster.ts';
import { checkCommitted, countingDescriptor, type CountingCheck } from './counting-job.ts';
import { cpuMeter, machineMeter } from './cpu.ts';
import { at, JobWatch } from './job-watch.ts';
import type { Scope } from './scope.ts';
import { median } from './stats.ts';
import type { Progress } from './wordcount.ts';

export interface OverheadOptions {
  events: number;
  keys: number;
  parallelism: number;
  taskManagers: number;
  slots: number;
  /** Runs of each variant. */
  repeats: number;
  checkpointMs: number;
}

export interface CountingRunFigures {
  checkpointing: boolean;
  /** RUNNING → FINISHED, as the Job Manager stamped them: the job's processing, deployment excluded. */
  runningSeconds: number;
  /** Submission → FINISHED (`result.durationMs`): with scheduling and deployment. */
  durationSeconds: number;
  eventsPerSecond: number;
  checkpoints: number;
  /** Medians over the run's completed checkpoints. */
  checkpointMs?: number;
  alignmentMs?: number;
  stateBytes?: number;
  check: CountingCheck;
  /** CPU seconds per cluster process during the run, and what the rest of the machine used meanwhile. */
  cpuSeconds: Record<string, number>;
  otherCpuSeconds?: number;
}

export interface OverheadResult {
  off: CountingRunFigures[];
  on: CountingRunFigures[];
  /** on ÷ off in events/s, per pair of runs made back to back. */
  ratios: number[];
}

export async function checkpointOverhead(options: OverheadOptions, scope: Scope, progress: Progress): Promise<OverheadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cloudflink-bench-checkpointing-'));
  scope.defer('remove the temp dir', () => rmSync(dir, { recursive: true, force: true }));
  progress(`throughput: starting nats-server, a Job Manager and ${options.taskManagers} Task Managers × ${options.slots} slots`);
  const cluster = await startCountingCluster({ taskManagers: options.taskManagers, slots: options.slots, dir }, scope);

  const off: CountingRunFigures[] = [];
  const on: CountingRunFigures[] = [];
  const ratios: number[] = [];
  try {
    // The first job on fresh processes runs cold (JIT, heaps growing, connections): one of full size goes first,
    // checked but not counted. A fifth of the size was not enough: the first measured run still used 15 % more CPU.
    progress(`throughput: a warm-up run (not measured)`);
    const warm = await countingRun(cluster, options, true, join(dir, 'warm-up'));
    if (!warm.check.exact) throw new Error(`the warm-up run's output is ${warm.check.verdict}`);

    for (let repeat = 0; repeat < options.repeats; repeat++) {
      // Alternating which goes first, so that neither variant always follows the other.
      const order = repeat % 2 === 0 ? [false, true] : [true, false];
      const pair: Partial<Record<'on' | 'off', CountingRunFigures>> = {};
      for (const checkpointing of order) {
        const name = checkpointing ? `exactly-once every ${options.checkpointMs} ms` : 'no checkpoints';
        progress(`throughput ${repeat + 1}/${options.repeats}: ${name}`);
        const run = await countingRun(cluster, options, checkpointing, join(dir, `out-${repeat}-${checkpointing ? 'on' : 'off'}`));
        progress(`throughput ${repeat + 1}/${options.repeats}: ${name}: ${Math.round(run.eventsPerSecond).toLocaleString('en-US')} events/s ` +
          `(${run.runningSeconds.toFixed(2)} s running, ${run.checkpoints} checkpoints), output ${run.check.verdict} (checked in ${run.check.seconds.toFixed(1)} s)`);
        (checkpointing ? on : off).push(run);
        pair[checkpointing ? 'on' : 'off'] = run;
      }
      ratios.push(pair.on!.eventsPerSecond / pair.off!.eventsPerSecond);
    }
  } catch (error) {
    throw withLogs(error, cluster);
  }
  // Gone before the next section measures anything.
  await cluster.stop();
  return { off, on, ratios };
}

async function countingRun(cluster: CountingCluster, options: OverheadOptions, checkpointing: boolean, output: string): Promise<CountingRunFigures> {
  const { events, keys, parallelism } = options;
  const descriptor = await countingDescriptor({ output, events, keys, parallelism, checkpointMs: checkpointing ? options.checkpointMs : 0 });
  const cpu = cpuMeter(cluster.pids());
  const machine = machineMeter();
  const jobId = await cluster.client.submit(descriptor);
  const watch = JobWatch.follow(cluster.client, jobId);
  const end = await watch.ended(10 * 60_000);
  const cpuSeconds = cpu();
  const machineSeconds = machine();
  if (end.to !== 'FINISHED') throw new Error(`the counting job ${jobId} ended ${end.to}: ${end.cause ?? 'no cause given'}`);
  const running = await watch.state('RUNNING', 0, 1000, 'CREATED');
  const result = await cluster.client.status(jobId);
  const runningSeconds = (at(end) - at(running)) / 1000;
  const completed = watch.events.filter((e): e is Extract<CheckpointEvent, { type: 'checkpoint.completed' }> => e.type === 'checkpoint.completed');
  const check = await checkCommitted(output, events, keys, at(end));
  rmSync(output, { recursive: true, force: true });
  const ours = Object.values(cpuSeconds).reduce((sum, s) => sum + s, 0);
  return {
    checkpointing,
    runningSeconds,
    durationSeconds: (result.durationMs ?? Number.NaN) / 1000,
    eventsPerSecond: events / runningSeconds,
    checkpoints: completed.length,
    checkpointMs: completed.length > 0 ? median(completed.map((c) => c.durationMs)) : undefined,
    alignmentMs: completed.length > 0 ? median(completed.map((c) => c.alignmentMs)) : undefined,
    stateBytes: completed.length > 0 ? median(completed.map((c) => c.size)) : undefined,
    check,
    cpuSeconds,
    otherCpuSeconds: machineSeconds === undefined ? undefined : Math.max(0, machineSeconds - ours),
  };
}
