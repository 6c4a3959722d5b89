/**
 * scripts/examples/keyed-counting.ts as the benchmarks and the chaos script run it: its
 * descriptor (with or without checkpointing), and the check of its committed output against
 * an unbroken run.
 */
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadJobFile } from '../../lib/cli/job-file.ts';
import type { JobDescriptor } from '../../lib/descriptor/types.ts';
import { checkCounting, type CountingOutcome } from '../../spec/helpers/counting.ts';

export const COUNTING_JOB = fileURLToPath(new URL('../examples/keyed-counting.ts', import.meta.url));

export interface CountingParams {
  /** The directory its exactly-once `part-*` files go to. */
  output: string;
  events: number;
  keys: number;
  parallelism: number;
  /** Exactly-once checkpoints this far apart; 0 turns checkpointing off. */
  checkpointMs: number;
  /** Events per second over all source subtasks; unlimited when absent. */
  rate?: number;
}

export async function countingDescriptor(p: CountingParams): Promise<JobDescriptor> {
  if (p.events % p.keys !== 0) throw new Error(`events (${p.events}) must be a multiple of keys (${p.keys}) for the output check`);
  const params: Record<string, string> = {
    output: p.output, events: String(p.events), keys: String(p.keys), mode: 'exactly-once',
    // The example always enables checkpointing; "off" is its descriptor without the section.
    checkpointMs: String(p.checkpointMs === 0 ? 1000 : p.checkpointMs),
  };
  if (p.rate !== undefined) params.rate = String(p.rate);
  const descriptor = await loadJobFile(COUNTING_JOB, { params, parallelism: p.parallelism });
  if (p.checkpointMs === 0) delete descriptor.checkpointing;
  return descriptor;
}

export interface CountingCheck {
  /** Every key's committed counts are 1..events/keys, each once. */
  exact: boolean;
  /** 'exact', or what is wrong, in a few words. */
  verdict: string;
  outcome: CountingOutcome;
  /** The last change to the committed files seen after FINISHED, in ms after its event; undefined when none was seen. */
  commitLagMs?: number;
  /** checkCounting's own time. */
  seconds: number;
}

/**
 * Checks the committed output of a job that FINISHED at `finishedAt` (epoch ms). FINISHED is
 * to mean committed; the files are still watched until they have been still for `quietMs`, so
 * that a commit landing after FINISHED is measured (commitLagMs) rather than a flaky check. A
 * commit later than that shows as a wrong count, never as a false "exact".
 */
export async function checkCommitted(output: string, events: number, keys: number, finishedAt: number, quietMs = 500): Promise<CountingCheck> {
  const listing = (): string => (existsSync(output) ? readdirSync(output).filter((f) => f.startsWith('part-')).sort().join('\n') : '');
  let last = listing();
  let changedAt: number | undefined;
  for (let stillSince = Date.now(); Date.now() - stillSince < quietMs;) {
    await new Promise((r) => setTimeout(r, 10));
    const now = listing();
    if (now !== last) {
      last = now;
      changedAt = stillSince = Date.now();
    }
  }
  return { ...verifyCounting(output, events, keys), commitLagMs: changedAt === undefined ? undefined : changedAt - finishedAt };
}

export function verifyCounting(output: string, events: number, keys: number): CountingCheck {
  const started = performance.now();
  const outcome = checkCounting(output, keys, events / keys);
  const seconds = (performance.now() - started) / 1000;
  const exact = outcome.wrongKeys.length === 0 && outcome.duplicates === 0 && outcome.lines === events;
  const problems: string[] = [];
  if (outcome.wrongKeys.length > 0) problems.push(`${outcome.wrongKeys.length} of ${keys} keys wrong (first: ${outcome.wrongKeys[0]})`);
  if (outcome.duplicates > 0) problems.push(`${outcome.duplicates.toLocaleString('en-US')} counts written twice`);
  if (outcome.lines !== events) problems.push(`${outcome.lines.toLocaleString('en-US')} of ${events.toLocaleString('en-US')} lines`);
  return { exact, verdict: exact ? 'exact' : `NOT exact: ${problems.join(', ')}`, outcome, seconds };
}
