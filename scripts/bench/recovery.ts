/**
 * Recovery time: kill -9 a Task Manager under a paced keyed counting job and time how long
 * until the job is RUNNING again, from the Job Manager's own job.state events. Phases:
 * detection (kill → FAILING), cancelling the survivors (→ RESTARTING), the restart delay,
 * deployment with state restored (→ RUNNING); and when every task runs again, from the
 * task.state events. Each run's committed output is checked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckpointEvent, TaskStateEvent } from '../../lib/events/index.ts';
import { killHard, startCountingCluster, withLogs } from './counting-cluster.ts';
import { checkCommitted, countingDescriptor, type CountingCheck } from './counting-job.ts';
import { at, JobWatch } from './job-watch.ts';
import type { Scope } from './scope.ts';
import type { Progress } from './wordcount.ts';

export interface RecoveryOptions {
  runs: number;
  events: number;
  keys: number;
  /** Events per second over all sources: paced so that the kill lands mid-run. */
  rate: number;
  parallelism: number;
  taskManagers: number;
  slots: number;
  heartbeat: { intervalMs: number; timeoutMs: number };
  checkpointMs: number;
  /** How long after the job is RUNNING the Task Manager dies. */
  killAfterMs: number;
}

export interface RecoveryRun {
  victim: string;
  /** kill → RUNNING again: the figure. */
  recoveryMs: number;
  /** kill → RUNNING→FAILING: the heartbeat timeout noticing. */
  detectMs: number;
  /** FAILING → RESTARTING: the surviving tasks cancelled. */
  cancelMs: number;
  /** RESTARTING → the new attempt's tasks created: the restart strategy's delay (the job asks for 200 ms). */
  restartDelayMs: number;
  /** → RUNNING: slots, deployment, state restored; the Job Manager's RUNNING comes once every Task Manager accepted its tasks. */
  deployMs: number;
  /** kill → the last task of the new attempt RUNNING: records flow again. */
  tasksRunningMs: number;
  /** kill → the first checkpoint completed after RUNNING again; it keeps the schedule from before the kill. */
  firstCheckpointMs?: number;
  /** The FAILING event's cause. */
  cause: string;
  /** RESTARTING → RUNNING transitions in the whole run: more than 1 is a failure the kill did not cause. */
  restarts: number;
  jobSeconds: number;
  check: CountingCheck;
}

export async function recoveryTime(options: RecoveryOptions, scope: Scope, progress: Progress): Promise<RecoveryRun[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cloudflink-bench-recovery-'));
  scope.defer('remove the temp dir', () => rmSync(dir, { recursive: true, force: true }));
  const { heartbeat, taskManagers, slots } = options;
  progress(`recovery: starting nats-server, a Job Manager and ${taskManagers} Task Managers × ${slots} slots ` +
    `(heartbeat every ${heartbeat.intervalMs} ms, lost after ${heartbeat.timeoutMs} ms)`);
  const counting = await startCountingCluster({ taskManagers, slots, heartbeat, dir }, scope);
  const { cluster, client } = counting;
  const runs: RecoveryRun[] = [];
  try {
    for (let run = 0; run < options.runs; run++) {
      const output = join(dir, `out-${run}`);
      const descriptor = await countingDescriptor({ ...options, output });
      const jobId = await client.submit(descriptor);
      const watch = JobWatch.follow(client, jobId);
      const running = await watch.state('RUNNING', 0, 60_000, 'CREATED');
      await new Promise((r) => setTimeout(r, Math.max(0, at(running) + options.killAfterMs - Date.now())));
      if (watch.jobStates().some((e) => e.to !== 'CREATED' && e.to !== 'RUNNING')) {
        throw new Error(`job ${jobId} was no longer just RUNNING at the kill (${watch.transitions().join(', ')}): raise --recovery-events or lower the rate`);
      }
      // Every Task Manager hosts a task (the scheduler spreads them): take each in turn.
      const victim = `tm-${1 + (run % taskManagers)}`;
      const killedAt = await killHard(cluster.taskManagers.get(victim)!);
      progress(`recovery ${run + 1}/${options.runs}: killed ${victim} ${((killedAt - at(running)) / 1000).toFixed(2)} s into the job`);

      const failing = await watch.state('FAILING', killedAt, 60_000);
      const restarting = await watch.state('RESTARTING', at(failing), 60_000);
      const back = await watch.state('RUNNING', at(restarting), 60_000, 'RESTARTING');
      const end = await watch.ended(10 * 60_000);
      if (end.to !== 'FINISHED') throw new Error(`job ${jobId} ended ${end.to}: ${end.cause ?? 'no cause given'}`);
      // The new attempt's task machines start at CREATED when the restart delay is over.
      const attempt = watch.events.filter((e): e is TaskStateEvent => e.type === 'task.state' && at(e) >= at(restarting));
      const created = attempt.find((e) => e.from === null && e.to === 'CREATED') ?? restarting;
      const tasksRunning = Math.max(...attempt.filter((e) => e.to === 'RUNNING' && at(e) <= at(end)).map(at), at(back));
      const checkpoint = watch.events.find((e): e is Extract<CheckpointEvent, { type: 'checkpoint.completed' }> =>
        e.type === 'checkpoint.completed' && at(e) >= at(back));
      const check = await checkCommitted(output, options.events, options.keys, at(end));
      rmSync(output, { recursive: true, force: true });
      const figures: RecoveryRun = {
        victim,
        recoveryMs: at(back) - killedAt,
        detectMs: at(failing) - killedAt,
        cancelMs: at(restarting) - at(failing),
        restartDelayMs: at(created) - at(restarting),
        deployMs: at(back) - at(created),
        tasksRunningMs: tasksRunning - killedAt,
        firstCheckpointMs: checkpoint ? at(checkpoint) - killedAt : undefined,
        cause: failing.cause ?? '',
        restarts: watch.transitions().filter((t) => t === 'RESTARTING→RUNNING').length,
        jobSeconds: (at(end) - at(running)) / 1000,
        check,
      };
      runs.push(figures);
      progress(`recovery ${run + 1}/${options.runs}: RUNNING again after ${(figures.recoveryMs / 1000).toFixed(2)} s ` +
        `(detect ${figures.detectMs}, cancel ${figures.cancelMs}, restart delay ${figures.restartDelayMs}, deploy ${figures.deployMs} ms); output ${check.verdict}`);

      // The next run starts on the whole cluster again.
      await cluster.startTaskManager(victim);
      await counting.whole();
    }
  } catch (error) {
    throw withLogs(error, counting);
  }
  await counting.stop();
  return runs;
}
