/** The checkpointing benchmark's table and notes, for the terminal. */
import type { CheckpointingReport } from './checkpointing.ts';
import type { CountingRunFigures } from './checkpoint-overhead.ts';
import { formatCpu } from './cpu.ts';
import { formatColumns } from './report.ts';
import { median, spreadOf, type Spread } from './stats.ts';

interface Row {
  measure: string;
  figures?: Spread;
  unit: (value: number) => string;
  goal?: string;
  met?: boolean;
  output?: string;
}

const COLUMNS: { title: string; cell(row: Row): string }[] = [
  { title: 'measure', cell: (r) => r.measure },
  { title: 'median', cell: (r) => (r.figures ? r.unit(r.figures.median) : '') },
  { title: 'min', cell: (r) => (r.figures ? r.unit(r.figures.min) : '') },
  { title: 'max', cell: (r) => (r.figures ? r.unit(r.figures.max) : '') },
  { title: 'spread', cell: (r) => (r.figures && r.figures.values.length > 1 ? `${(r.figures.spread * 100).toFixed(0)} %` : '') },
  { title: 'goal', cell: (r) => r.goal ?? '' },
  { title: 'met', cell: (r) => (r.met === undefined ? '' : r.met ? 'yes' : 'NO') },
  { title: 'output', cell: (r) => r.output ?? '' },
];

const LEGEND = [
  'events/s: events ÷ the job\'s RUNNING → FINISHED time as the Job Manager stamped it (deployment excluded);',
  '  the runs alternate (off, on, on, off, …) on one cluster after a warm-up run, so both variants share the machine\'s state.',
  'with ÷ without: events/s with checkpoints ÷ events/s without, for each pair of runs made back to back.',
  'cluster CPU: CPU seconds of nats-server, the Job Manager and the Task Managers during the run (from /proc), per million events;',
  '  less disturbed by other work on the machine than events/s, so a cross-check of the ratio above.',
  'recovery: kill -9 of a Task Manager (this process\'s clock) → the Job Manager\'s RESTARTING → RUNNING event,',
  '  which it emits once every Task Manager has accepted its redeployed tasks; detect = kill → FAILING (the heartbeat timeout),',
  '  cancel = FAILING → RESTARTING, restart delay = RESTARTING → the new attempt\'s tasks created (the job\'s strategy: 200 ms),',
  '  deploy + restore = → RUNNING; every task RUNNING = kill → the last task.state RUNNING of the new attempt: records flow.',
  'output: the committed part-* files checked with spec/helpers/counting.ts: every key\'s counts exactly 1..events/keys, once each.',
  'spread: (max − min) ÷ median.',
  'The throughput job is sized to span several checkpoint intervals (2,000,000 events run in about 1.3 s here: one checkpoint',
  '  at most), with many keys because checkCounting\'s time grows with events × events/keys (1000 keys at 8M events: minutes per check).',
];

export function formatCheckpointingReport(report: CheckpointingReport): string {
  const { machine, goals, throughput, recovery } = report;
  const { off, on, ratios } = throughput.result;
  const t = throughput.options;
  const r = recovery.options;
  const runs = recovery.runs;
  const rate = (v: number): string => Math.round(v).toLocaleString('en-US');
  const seconds = (v: number): string => v.toFixed(2);
  const ms = (v: number): string => `${Math.round(v)}`;
  const exact = (checks: { check: { exact: boolean } }[]): string =>
    `${checks.filter((c) => c.check.exact).length}/${checks.length} exact`;
  const ratio = spreadOf(ratios);
  const recoverySeconds = spreadOf(runs.map((run) => run.recoveryMs / 1000));
  const rows: Row[] = [
    { measure: 'events/s, no checkpoints', figures: spreadOf(off.map((x) => x.eventsPerSecond)), unit: rate, output: exact(off) },
    { measure: `events/s, exactly-once every ${t.checkpointMs / 1000} s`, figures: spreadOf(on.map((x) => x.eventsPerSecond)), unit: rate, output: exact(on) },
    { measure: '  with ÷ without', figures: ratio, unit: (v) => v.toFixed(2), goal: `≥ ${goals.throughputRatio}`, met: ratio.median >= goals.throughputRatio },
    { measure: 'cluster CPU s per M events, no checkpoints', figures: spreadOf(off.map(cpuPerMillion(t.events))), unit: seconds },
    { measure: 'cluster CPU s per M events, exactly-once', figures: spreadOf(on.map(cpuPerMillion(t.events))), unit: seconds },
    { measure: '  without ÷ with', figures: spreadOf(on.map((x, i) => clusterCpu(off[i]!) / clusterCpu(x))), unit: (v) => v.toFixed(2) },
    { measure: 'recovery s, kill -9 TM → RUNNING', figures: recoverySeconds, unit: seconds, goal: `≤ ${goals.recoverySeconds} s`, met: recoverySeconds.median <= goals.recoverySeconds, output: exact(runs) },
    { measure: '  ms detect (→ FAILING)', figures: spreadOf(runs.map((x) => x.detectMs)), unit: ms },
    { measure: '  ms cancel (→ RESTARTING)', figures: spreadOf(runs.map((x) => x.cancelMs)), unit: ms },
    { measure: '  ms restart delay (→ new attempt)', figures: spreadOf(runs.map((x) => x.restartDelayMs)), unit: ms },
    { measure: '  ms deploy + restore (→ RUNNING)', figures: spreadOf(runs.map((x) => x.deployMs)), unit: ms },
    { measure: '  s kill → every task RUNNING', figures: spreadOf(runs.map((x) => x.tasksRunningMs / 1000)), unit: seconds },
  ];
  const header = [
    `Checkpointing and recovery, keyed counting (scripts/examples/keyed-counting.ts), ${machine.cpus} cores, node ${machine.node}, ` +
      `load average ${machine.loadAverage.toFixed(1)} at the start, ${machine.loadAverageAtEnd.toFixed(1)} at the end`,
    `  throughput: ${t.events.toLocaleString('en-US')} events, ${t.keys.toLocaleString('en-US')} keys, parallelism ${t.parallelism} on ` +
      `${t.taskManagers} TMs × ${t.slots} slots, no rate limit, ${t.repeats} runs of each variant`,
    `  recovery: ${runs.length} runs of ${r.events.toLocaleString('en-US')} events, ${r.keys} keys at ${r.rate.toLocaleString('en-US')} events/s, ` +
      `parallelism ${r.parallelism} on ${r.taskManagers} TMs × ${r.slots} slots, checkpoints every ${r.checkpointMs / 1000} s, ` +
      `heartbeat every ${r.heartbeat.intervalMs} ms, lost after ${r.heartbeat.timeoutMs} ms; kill ${r.killAfterMs / 1000} s into the job`,
  ];
  return ['', ...header, '', formatColumns(COLUMNS, rows, new Set([0, 5, 6, 7])), '', ...LEGEND, '', ...notes(report), ''].join('\n');
}

function notes(report: CheckpointingReport): string[] {
  const { off, on } = report.throughput.result;
  const runs = report.recovery.runs;
  const lines: string[] = [];
  const variant = (name: string, figures: CountingRunFigures[]): void => {
    const cpu = medianCpu(figures);
    const other = figures.flatMap((f) => (f.otherCpuSeconds === undefined ? [] : [f.otherCpuSeconds]));
    lines.push(`${name}: median ${median(figures.map((f) => f.runningSeconds)).toFixed(2)} s running, ` +
      `${median(figures.map((f) => f.durationSeconds)).toFixed(2)} s submission → FINISHED; CPU seconds per run (median): ${formatCpu(cpu)}` +
      (other.length > 0 ? `; others on the machine meanwhile: ${median(other).toFixed(1)}` : ''));
    const checkpointed = figures.filter((f) => f.checkpoints > 0);
    if (checkpointed.length > 0) {
      lines.push(`  checkpoints per run: ${figures.map((f) => f.checkpoints).join(', ')}; median checkpoint ${median(checkpointed.map((f) => f.checkpointMs!)).toFixed(0)} ms, ` +
        `alignment ${median(checkpointed.map((f) => f.alignmentMs!)).toFixed(0)} ms, state ${(median(checkpointed.map((f) => f.stateBytes!)) / 1024).toFixed(0)} KiB`);
    }
  };
  variant('no checkpoints', off);
  variant('exactly-once', on);
  // What other processes took from a 2-core machine is what the wall clock cannot tell apart from the engine's cost.
  const shares = [...off, ...on].flatMap((f) => (f.otherCpuSeconds === undefined ? [] : [f.otherCpuSeconds / (report.machine.cpus * f.runningSeconds)]));
  if (shares.length > 0 && median(shares) > 0.1) {
    lines.push(`DISTURBED: other processes used a median ${(median(shares) * 100).toFixed(0)} % (max ${(Math.max(...shares) * 100).toFixed(0)} %) of the machine's CPU ` +
      'during the throughput runs; events/s and its ratio carry that noise, the cluster CPU rows much less.');
  }
  lines.push(`output check (checkCounting) took ${median([...off, ...on].map((f) => f.check.seconds)).toFixed(1)} s per throughput run, not timed in any figure`);
  for (const [i, run] of runs.entries()) {
    lines.push(`recovery ${i + 1}: ${run.victim}: ${(run.recoveryMs / 1000).toFixed(2)} s ` +
      `(detect ${run.detectMs}, cancel ${run.cancelMs}, restart delay ${run.restartDelayMs}, deploy ${run.deployMs} ms)` +
      `${run.firstCheckpointMs === undefined ? '' : `, first checkpoint completed ${(run.firstCheckpointMs / 1000).toFixed(2)} s after the kill (on the pre-kill schedule)`}` +
      `${run.restarts > 1 ? `, ${run.restarts} restarts` : ''}; job ${run.jobSeconds.toFixed(1)} s; ${run.check.verdict}; cause: ${run.cause}`);
  }
  const all = [...off, ...on, ...runs];
  const lags = all.flatMap((f) => (f.check.commitLagMs === undefined ? [] : [f.check.commitLagMs]));
  if (lags.length > 0) {
    lines.push(`final commit: in ${lags.length} of ${all.length} runs the part-* files were still changing when FINISHED arrived here; ` +
      `last change ${Math.min(...lags)}–${Math.max(...lags)} ms after the FINISHED event (output read at FINISHED would be short)`);
  }
  for (const f of all) if (!f.check.exact) lines.push(`WRONG OUTPUT: ${f.check.verdict}`);
  return lines;
}

/** CPU seconds of the cluster's processes (not this client) during a run. */
function clusterCpu(run: CountingRunFigures): number {
  return Object.entries(run.cpuSeconds).reduce((sum, [name, seconds]) => (name === 'client' ? sum : sum + seconds), 0);
}

function cpuPerMillion(events: number): (run: CountingRunFigures) => number {
  return (run) => clusterCpu(run) / (events / 1e6);
}

function medianCpu(figures: CountingRunFigures[]): Record<string, number> {
  const names = [...new Set(figures.flatMap((f) => Object.keys(f.cpuSeconds)))];
  return Object.fromEntries(names.map((name) => [name, median(figures.flatMap((f) => (name in f.cpuSeconds ? [f.cpuSeconds[name]!] : [])))]));
}
