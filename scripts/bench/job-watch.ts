/**
 * Follows one job's lifecycle events from its submission to its end, and lets the caller
 * wait for the first event that matches: "RUNNING", "a checkpoint after the kill", "the end".
 * The events come from JetStream, so they keep flowing while a Job Manager is down.
 */
import type { JobClient } from '../../lib/client/index.ts';
import { TERMINAL_JOB_STATES, type JobStateEvent, type LifecycleEvent } from '../../lib/events/index.ts';

interface Waiter {
  test: (event: LifecycleEvent) => boolean;
  resolve: (event: LifecycleEvent) => void;
  reject: (error: Error) => void;
}

export class JobWatch {
  readonly events: LifecycleEvent[] = [];
  private readonly waiters = new Set<Waiter>();
  /** Set once the stream ended: why no further event will come. */
  private over?: Error;

  private constructor(readonly jobId: string) {}

  static follow(client: JobClient, jobId: string): JobWatch {
    const watch = new JobWatch(jobId);
    void watch.read(client);
    return watch;
  }

  /** The first event, seen already or still to come, that passes `test`; rejects after `timeoutMs` or when the job ends without one. */
  until<E extends LifecycleEvent>(test: (event: LifecycleEvent) => event is E, what: string, timeoutMs: number): Promise<E>;
  until(test: (event: LifecycleEvent) => boolean, what: string, timeoutMs: number): Promise<LifecycleEvent>;
  until(test: (event: LifecycleEvent) => boolean, what: string, timeoutMs: number): Promise<LifecycleEvent> {
    const seen = this.events.find(test);
    if (seen) return Promise.resolve(seen);
    if (this.over) return Promise.reject(new Error(`job ${this.jobId}: ${what} never came (${this.over.message})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`job ${this.jobId}: no ${what} within ${(timeoutMs / 1000).toFixed(0)} s; its states: ${this.transitions().join(', ')}`));
      }, timeoutMs);
      const waiter: Waiter = {
        test,
        resolve: (event) => { clearTimeout(timer); resolve(event); },
        reject: (error) => { clearTimeout(timer); reject(new Error(`job ${this.jobId}: ${what} never came (${error.message})`)); },
      };
      this.waiters.add(waiter);
    });
  }

  /** The terminal job.state event. */
  ended(timeoutMs: number): Promise<JobStateEvent> {
    return this.until((e): e is JobStateEvent => e.type === 'job.state' && TERMINAL_JOB_STATES.includes(e.to), 'end', timeoutMs);
  }

  /** The first job.state event into `to` at or after `sinceMs` (epoch ms). */
  state(to: JobStateEvent['to'], sinceMs: number, timeoutMs: number, from?: JobStateEvent['from']): Promise<JobStateEvent> {
    return this.until((e): e is JobStateEvent => e.type === 'job.state' && e.to === to && (from === undefined || e.from === from) && at(e) >= sinceMs,
      `${from ?? ''}→${to}`, timeoutMs);
  }

  jobStates(): JobStateEvent[] {
    return this.events.filter((e): e is JobStateEvent => e.type === 'job.state');
  }

  transitions(): string[] {
    return this.jobStates().map((e) => `${e.from ?? '∅'}→${e.to}`);
  }

  private async read(client: JobClient): Promise<void> {
    try {
      for await (const event of client.events(this.jobId)) {
        this.events.push(event);
        for (const waiter of [...this.waiters]) {
          if (waiter.test(event)) {
            this.waiters.delete(waiter);
            waiter.resolve(event);
          }
        }
      }
      this.over = new Error('the job ended');
    } catch (error) {
      // The client was closed under it (cleanup, Ctrl-C), or NATS went away.
      this.over = error as Error;
    }
    for (const waiter of this.waiters) waiter.reject(this.over);
    this.waiters.clear();
  }
}

/** An event's time, epoch milliseconds (the Job Manager's clock; the same host's as ours). */
export function at(event: { at: string }): number {
  return Date.parse(event.at);
}
