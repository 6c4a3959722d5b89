/**
 * Restart strategies, as Flink's RestartBackoffTimeStrategy implementations but as pure
 * functions: the history goes in and comes out, and the time and the random draw are passed in.
 */

export type RestartStrategy =
  | { type: 'none' }
  | { type: 'fixed-delay'; attempts: number; delayMs: number }
  | {
    type: 'exponential-delay';
    initialDelayMs: number;
    maxDelayMs: number;
    multiplier: number;
    /** 0..1: the delay moves by up to ±jitter × delay. */
    jitter: number;
    /** A job that ran this long since its previous failure starts again from `initialDelayMs`. */
    resetAfterMs: number;
  }
  | { type: 'failure-rate'; maxFailures: number; intervalMs: number; delayMs: number };

export type RestartStrategyType = RestartStrategy['type'];

export const RESTART_STRATEGY_TYPES: readonly RestartStrategyType[] = ['none', 'fixed-delay', 'exponential-delay', 'failure-rate'];

/**
 * What a strategy remembers between failures; plain data, so it persists with the job.
 * - `attempts`: restarts the strategy counts (for exponential-delay, since the backoff last reset).
 * - `failureTimes`: failures still counted: within `intervalMs` for failure-rate, else the latest few.
 * - `lastDelayMs`: the delay of the last restart granted.
 * - `lastFailureAt`: when the last failure was counted; the reset of exponential-delay measures from it.
 */
export interface RestartHistory {
  attempts: number;
  failureTimes: number[];
  lastDelayMs?: number;
  lastFailureAt?: number;
}

export type RestartDecision =
  | { restart: true; delayMs: number; history: RestartHistory }
  | { restart: false; reason: string; history: RestartHistory };

/** Integer.MAX_VALUE: Flink's "restart forever" for fixed-delay. */
export const UNLIMITED_ATTEMPTS = 2147483647;

/** The history of a job that never failed. */
export function emptyRestartHistory(): RestartHistory {
  return { attempts: 0, failureTimes: [] };
}

// Only failure-rate needs the times; the others keep a few for diagnostics, so a flapping job's history stays small.
const KEPT_FAILURE_TIMES = 10;

/** Flink's defaults: with checkpointing, fixed-delay forever every second; without, no restarts. */
export function defaultRestartStrategy(checkpointingEnabled: boolean, batch = false): RestartStrategy {
  if (checkpointingEnabled) return { type: 'fixed-delay', attempts: UNLIMITED_ATTEMPTS, delayMs: 1000 };
  // A batch job reads its bounded inputs again: a few tries at it, as Flink's batch default.
  return batch ? { type: 'fixed-delay', attempts: BATCH_ATTEMPTS, delayMs: 1000 } : { type: 'none' };
}

const BATCH_ATTEMPTS = 3;

/**
 * Counts one failure at `now` and says whether to restart, after how long, or why not.
 * `random` is a draw in [0, 1) for the jitter of exponential-delay (0.5 means no jitter).
 */
export function decideRestart(strategy: RestartStrategy, history: RestartHistory, now: number, random: number): RestartDecision {
  switch (strategy.type) {
    case 'none':
      return { restart: false, reason: 'restarts are disabled (none)', history: counted(history, now, KEPT_FAILURE_TIMES) };
    case 'fixed-delay': {
      const next = counted(history, now, KEPT_FAILURE_TIMES);
      if (history.attempts >= strategy.attempts) {
        return { restart: false, reason: `gave up after ${restarts(history.attempts)} (fixed-delay)`, history: next };
      }
      return granted(next, history.attempts + 1, strategy.delayMs);
    }
    case 'exponential-delay': {
      // Flink measures the reset from the previous failure: a long healthy run earns a short delay again.
      const reset = history.lastFailureAt === undefined || now - history.lastFailureAt >= strategy.resetAfterMs;
      const n = reset ? 0 : history.attempts;
      const base = Math.min(strategy.maxDelayMs, strategy.initialDelayMs * strategy.multiplier ** n);
      const jittered = base + (2 * clamp01(random) - 1) * strategy.jitter * base;
      // As Flink's: jitter never takes the delay below the initial delay nor above the maximum.
      const delayMs = Math.round(Math.max(strategy.initialDelayMs, Math.min(strategy.maxDelayMs, jittered)));
      return granted(counted(history, now, KEPT_FAILURE_TIMES), n + 1, delayMs);
    }
    case 'failure-rate': {
      // A failure exactly `intervalMs` ago still counts, as in Flink.
      const failureTimes = [...history.failureTimes, now].filter((t) => now - t <= strategy.intervalMs);
      const next = { ...history, failureTimes, lastFailureAt: now };
      if (failureTimes.length > strategy.maxFailures) {
        return {
          restart: false,
          reason: `gave up after ${failures(failureTimes.length)} within ${strategy.intervalMs} ms, more than the ${strategy.maxFailures} allowed (failure-rate)`,
          history: next,
        };
      }
      return granted(next, history.attempts + 1, strategy.delayMs);
    }
    default: {
      const never: never = strategy;
      throw new Error(`unknown restart strategy ${JSON.stringify(never)}`);
    }
  }
}

/** One line for logs and the README: `fixed-delay: 3 attempts, 1000 ms apart`. */
export function describeRestartStrategy(s: RestartStrategy): string {
  switch (s.type) {
    case 'none':
      return 'none: a failed job is not restarted';
    case 'fixed-delay':
      return s.attempts >= UNLIMITED_ATTEMPTS
        ? `fixed-delay: restart forever, ${s.delayMs} ms after each failure`
        : `fixed-delay: up to ${restarts(s.attempts)}, ${s.delayMs} ms after each failure`;
    case 'exponential-delay':
      return `exponential-delay: ${s.initialDelayMs} ms, ×${s.multiplier} per failure up to ${s.maxDelayMs} ms, ` +
        `±${Math.round(s.jitter * 100)}% jitter, back to ${s.initialDelayMs} ms after ${s.resetAfterMs} ms without a failure`;
    case 'failure-rate':
      return `failure-rate: restart ${s.delayMs} ms after each failure, give up after more than ${failures(s.maxFailures)} within ${s.intervalMs} ms`;
    default: {
      const never: never = s;
      throw new Error(`unknown restart strategy ${JSON.stringify(never)}`);
    }
  }
}

function counted(history: RestartHistory, now: number, keep: number): RestartHistory {
  return { ...history, failureTimes: [...history.failureTimes, now].slice(-keep), lastFailureAt: now };
}

function granted(history: RestartHistory, attempts: number, delayMs: number): RestartDecision {
  return { restart: true, delayMs, history: { ...history, attempts, lastDelayMs: delayMs } };
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0.5;
}

function restarts(n: number): string {
  return n === 1 ? '1 restart' : `${n} restarts`;
}

function failures(n: number): string {
  return n === 1 ? '1 failure' : `${n} failures`;
}
