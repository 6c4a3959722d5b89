/**
 * What fault tolerance costs and buys, measured in one run on this machine: the keyed
 * counting job's throughput with exactly-once checkpoints against the same job without
 * them, and the time from kill -9 of a Task Manager to the job RUNNING again. Every run's
 * committed output is checked against an unbroken run: a fast wrong answer is not a result.
 */
import { cpus, loadavg } from 'node:os';
import { checkpointOverhead, type OverheadOptions, type OverheadResult } from './checkpoint-overhead.ts';
import { recoveryTime, type RecoveryOptions, type RecoveryRun } from './recovery.ts';
import type { Scope } from './scope.ts';
import type { Progress } from './wordcount.ts';

export interface CheckpointingOptions {
  /** The throughput job's size: long enough to take several checkpoints. */
  events: number;
  keys: number;
  /** Runs of each throughput variant. */
  repeats: number;
  /** Kills, one per run. */
  recoveries: number;
  recoveryEvents: number;
  recoveryRate: number;
}

/** The goals the figures are printed against. */
export const GOALS = {
  /** events/s with exactly-once checkpoints every second ÷ events/s without, at least. */
  throughputRatio: 0.95,
  /** kill -9 of a Task Manager → RUNNING again, at most, in seconds. */
  recoverySeconds: 2,
};

export interface CheckpointingReport {
  benchmark: 'checkpointing';
  startedAt: string;
  machine: { cpus: number; node: string; platform: string; loadAverage: number; loadAverageAtEnd: number };
  goals: typeof GOALS;
  throughput: { options: OverheadOptions; result: OverheadResult };
  recovery: { options: RecoveryOptions; runs: RecoveryRun[] };
}

export async function checkpointingBench(options: CheckpointingOptions, scope: Scope, progress: Progress): Promise<CheckpointingReport> {
  const startedAt = new Date().toISOString();
  // Other work on the machine slows every run; the load averages say how much there was.
  const loadAverage = loadavg()[0]!;
  const throughputOptions: OverheadOptions = {
    events: options.events, keys: options.keys, parallelism: 2, taskManagers: 2, slots: 2,
    repeats: options.repeats, checkpointMs: 1000,
  };
  const overhead = await checkpointOverhead(throughputOptions, scope, progress);
  const recoveryOptions: RecoveryOptions = {
    runs: options.recoveries, events: options.recoveryEvents, keys: 1000, rate: options.recoveryRate,
    parallelism: 4, taskManagers: 3, slots: 2,
    // Tuned for it: a dead Task Manager is declared lost after half a second instead of three.
    heartbeat: { intervalMs: 100, timeoutMs: 500 },
    checkpointMs: 1000, killAfterMs: 2000,
  };
  const recovery = await recoveryTime(recoveryOptions, scope, progress);
  return {
    benchmark: 'checkpointing',
    startedAt,
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}`, loadAverage, loadAverageAtEnd: loadavg()[0]! },
    goals: GOALS,
    throughput: { options: throughputOptions, result: overhead },
    recovery: { options: recoveryOptions, runs: recovery },
  };
}

/** True when every run computed the exact answer (the goals being missed is news, not an error). */
export function allExact(report: CheckpointingReport): boolean {
  const { off, on } = report.throughput.result;
  return [...off, ...on].every((run) => run.check.exact) && report.recovery.runs.every((run) => run.check.exact);
}
