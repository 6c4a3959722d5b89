import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { encodeJson } from '../codec/index.ts';
import type { Logger } from '../log/index.ts';
import type { Subjects } from '../subjects/index.ts';
import type { Transport } from '../transport/index.ts';
import type { JobStateEvent, LifecycleEvent, TaskManagerEvent, TaskStateEvent } from './types.ts';

/** Publishes lifecycle events as JSON, one subject per job, task and Task Manager. */
export class EventPublisher {
  constructor(private readonly transport: Transport, private readonly subjects: Subjects) {}

  publish(event: LifecycleEvent): void {
    this.transport.publish(this.subjectOf(event), encodeJson(event));
  }

  subjectOf(event: LifecycleEvent): string {
    switch (event.type) {
      case 'job.state':
      case 'job.failover':
      case 'job.rejected':
        return this.subjects.jobEvents(event.jobId);
      case 'task.state':
        return this.subjects.taskEvents(event.jobId, event.vertexId, event.subtask);
      case 'checkpoint.triggered':
      case 'checkpoint.completed':
      case 'checkpoint.failed':
        return this.subjects.checkpointEvents(event.jobId);
      case 'tm.registered':
      case 'tm.lost':
      case 'tm.refused':
        return this.subjects.tmEvents(event.tmId);
      default: {
        const never: never = event;
        throw new Error(`unknown event ${JSON.stringify(never)}`);
      }
    }
  }
}

export type { JobStateEvent, TaskStateEvent, TaskManagerEvent };

/**
 * Creates (or updates) the JetStream stream that keeps every lifecycle event for
 * `retainHours`, so that a monitor started late can replay a job's history. Without
 * JetStream on the server, events are live only, and this says so.
 */
export async function ensureEventStream(connection: NatsConnection, subjects: Subjects, retainHours: number, log: Logger): Promise<boolean> {
  const config = {
    name: subjects.eventStream,
    subjects: [subjects.allEvents],
    max_age: retainHours * 3600 * 1_000_000_000,
    max_msgs: 1_000_000,
  };
  try {
    const jsm = await jetstreamManager(connection, { timeout: 5000 });
    try {
      await jsm.streams.info(config.name);
      await jsm.streams.update(config.name, { subjects: config.subjects, max_age: config.max_age, max_msgs: config.max_msgs });
    } catch {
      await jsm.streams.add(config);
    }
    return true;
  } catch (error) {
    log.warn({ err: error }, 'JetStream is not available: lifecycle events are published live but not retained for replay');
    return false;
  }
}
