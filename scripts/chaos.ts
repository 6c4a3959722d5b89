/**
 * node --import tsx scripts/chaos.ts [--runs N] [--events E] [--rate R] [--kill tm|jm] [--seed S]
 *
 * Runs the keyed counting job (paced, exactly-once, parallelism 4 on 3 Task Managers × 2
 * slots, fast heartbeats) N times; each time kills a random Task Manager (or the Job Manager,
 * then starts a new one) with kill -9 at a random moment, waits for the job to end and checks
 * its committed output against an unbroken run. The choices come from a seeded PRNG: the seed
 * is printed, and --seed replays them. Exits 1 if any run's output was not exact.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killHard, startCountingCluster, withLogs, type CountingCluster } from './bench/counting-cluster.ts';
import { checkCommitted, countingDescriptor } from './bench/counting-job.ts';
import { at, JobWatch } from './bench/job-watch.ts';
import { commandLine } from './bench/args.ts';
import { Scope } from './bench/scope.ts';
import { prng } from '../spec/helpers/random.ts';

const USAGE = 'usage: node --import tsx scripts/chaos.ts [--runs N (default 5)] [--events E (default 1000000)] ' +
  '[--rate R events/s (default 250000)] [--kill tm|jm (default tm)] [--seed S (default: random, printed)]\n';
const KEYS = 1000;
const TASK_MANAGERS = 3;

interface Options { runs: number; events: number; rate: number; kill: 'tm' | 'jm'; seed: number }

function options(): Options {
  const { text, number, fail } = commandLine({
    runs: { default: '5' }, events: { default: '1000000' }, rate: { default: '250000' }, kill: { default: 'tm' }, seed: {},
  }, USAGE);
  const kill = text('kill');
  if (kill !== 'tm' && kill !== 'jm') return fail(`--kill expects tm or jm, got '${kill}'`);
  const events = number('events', { min: KEYS });
  // The output check needs every key to get the same number of events.
  if (events % KEYS !== 0) fail(`--events must be a multiple of ${KEYS}, the job's keys`);
  return {
    runs: number('runs'),
    events,
    rate: number('rate'),
    kill,
    seed: text('seed') === undefined ? Math.floor(Math.random() * 2 ** 31) : number('seed', { min: 0 }),
  };
}

const chosen = options();
const { runs, events, rate, kill, seed } = chosen;
const random = prng(seed);
/** How long a run lasts unbroken, at its pace. */
const paceMs = (events / rate) * 1000;
const progress = (line: string): void => { process.stderr.write(`${line}\n`); };

const scope = new Scope();
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  progress('interrupted: stopping the cluster and removing temp files');
  void scope.close().finally(() => process.exit(130));
});

process.stdout.write(`chaos: ${runs} runs of ${events.toLocaleString('en-US')} events at ${rate.toLocaleString('en-US')}/s, kill -9 the ${kill === 'tm' ? 'Task Manager' : 'Job Manager'}; ` +
  `seed ${seed} (replay: --runs ${runs} --events ${events} --rate ${rate} --kill ${kill} --seed ${seed})\n`);
let exact = 0;
try {
  const dir = mkdtempSync(join(tmpdir(), 'cloudflink-chaos-'));
  scope.defer('remove the temp dir', () => rmSync(dir, { recursive: true, force: true }));
  progress(`starting nats-server, a Job Manager and ${TASK_MANAGERS} Task Managers × 2 slots (heartbeat every 100 ms, lost after 500 ms)`);
  const cluster = await startCountingCluster({ taskManagers: TASK_MANAGERS, slots: 2, heartbeat: { intervalMs: 100, timeoutMs: 500 }, dir }, scope);
  for (let run = 1; run <= runs; run++) {
    // Drawn before the run, so a replay makes the same choices whatever happened in earlier runs.
    const victim = kill === 'tm' ? `tm-${1 + Math.floor(random() * TASK_MANAGERS)}` : 'jm';
    const afterMs = Math.round(random() * 0.9 * paceMs);
    const line = await chaosRun(cluster, join(dir, `out-${run}`), victim, afterMs).catch((error: unknown) => {
      throw withLogs(new Error(`run ${run}/${runs} (${victim} after ${afterMs} ms): ${(error as Error).message}`, { cause: error }), cluster);
    });
    process.stdout.write(`run ${run}/${runs}: ${line.text}\n`);
    if (line.exact) exact++;
    else progress(withLogs(new Error(`run ${run}/${runs} was not exact`), cluster).message);
  }
} catch (error) {
  if (!interrupted) progress(`failed: ${(error as Error).stack ?? String(error)}`);
} finally {
  await scope.close();
}
process.stdout.write(`${exact}/${runs} exact\n`);
process.exitCode = exact === runs ? 0 : 1;

/** One run: the job, the kill, the end, the check; the cluster whole again afterwards. */
async function chaosRun(counting: CountingCluster, output: string, victim: string, afterMs: number): Promise<{ text: string; exact: boolean }> {
  const { cluster, client } = counting;
  const descriptor = await countingDescriptor({ output, events, keys: KEYS, parallelism: 4, checkpointMs: 500, rate });
  const jobId = await client.submit(descriptor);
  const watch = JobWatch.follow(client, jobId);
  const running = await watch.state('RUNNING', 0, 60_000, 'CREATED');
  await new Promise((r) => setTimeout(r, Math.max(0, at(running) + afterMs - Date.now())));
  const endedBefore = watch.jobStates().some((e) => e.to === 'FINISHED' || e.to === 'FAILED' || e.to === 'CANCELED');
  const killedAt = kill === 'tm' ? await killHard(cluster.taskManagers.get(victim)!) : await killHard(cluster.jobManager);
  if (kill === 'jm') cluster.startJobManager();
  const into = ((killedAt - at(running)) / 1000).toFixed(2);

  const end = await watch.ended(120_000 + 5 * paceMs);
  const check = await checkCommitted(output, events, KEYS, at(end));
  rmSync(output, { recursive: true, force: true });
  const back = watch.jobStates().find((e) => e.to === 'RUNNING' && e.from === 'RESTARTING' && at(e) >= killedAt);
  const restarts = watch.transitions().filter((t) => t === 'RESTARTING→RUNNING').length;
  const details = [
    endedBefore ? 'the job had ended before the kill' : back ? `RUNNING again after ${((at(back) - killedAt) / 1000).toFixed(2)} s` : 'never RUNNING again',
    ...(restarts > 1 ? [`${restarts} restarts`] : []),
    ...(check.commitLagMs === undefined ? [] : [`final commit ${check.commitLagMs} ms after FINISHED`]),
    ...(end.to === 'FINISHED' ? [] : [`cause: ${end.cause ?? 'none given'}`]),
  ];

  // Whole again for the next run: the same Task Manager back, or the new Job Manager with every Task Manager registered.
  if (kill === 'tm') await cluster.startTaskManager(victim);
  await counting.whole(60_000);
  return { text: `killed ${victim} after ${into} s → ${end.to}, ${check.verdict} (${details.join('; ')})`, exact: check.exact && end.to === 'FINISHED' };
}
