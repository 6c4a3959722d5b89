/**
 * CPU seconds each cluster process spent over an interval, from /proc (Linux): with more
 * processes than cores, where the CPU went says more than the wall clock alone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export type Pids = Record<string, number | undefined>;

const ticksPerSecond = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** user + system CPU seconds of one process and all its threads; undefined without /proc. */
function cpuSeconds(pid: number): number | undefined {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return undefined;
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const fields = readFileSync(stat, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Starts counting now; the returned function gives each process's CPU seconds since, by name. */
export function cpuMeter(pids: Pids): () => Record<string, number> {
  const before = sample(pids);
  return () => {
    const after = sample(pids);
    return Object.fromEntries(Object.keys(after).filter((name) => name in before).map((name) => [name, after[name]! - before[name]!]));
  };
}

function sample(pids: Pids): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const seconds = pid === undefined ? undefined : cpuSeconds(pid);
    if (seconds !== undefined) out[name] = seconds;
  }
  return out;
}

export function formatCpu(cpu: Record<string, number>): string {
  return Object.entries(cpu).map(([name, seconds]) => `${name} ${seconds.toFixed(1)}`).join(', ');
}

/**
 * Starts counting now; the returned function gives the CPU seconds the whole machine was
 * busy since (all cores; /proc/stat), or undefined without /proc. Less what the cluster's
 * processes used, it is what others on the machine took from the run.
 */
export function machineMeter(): () => number | undefined {
  const before = machineBusySeconds();
  return () => {
    const after = machineBusySeconds();
    return before === undefined || after === undefined ? undefined : after - before;
  };
}

function machineBusySeconds(): number | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  // cpu  user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((sum, ticks) => sum + ticks, 0);
  return (total - fields[3]! - fields[4]!) / ticksPerSecond;
}
