import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Subjects } from '../subjects/index.ts';
import type { LifecycleEvent } from './types.ts';

export interface ReadEventsOptions {
  /** Only this job's events (and none of the Task Managers'). */
  jobId?: string;
  /** Keep waiting for new events after the replay; without it, stop at the last event stored now. */
  follow: boolean;
}

export function eventJobId(event: LifecycleEvent): string | undefined {
  return 'jobId' in event ? event.jobId : undefined;
}

/**
 * Lifecycle events from the JetStream stream, from the first one kept, then (with
 * `follow`) live. A server without JetStream gives live events only.
 */
export async function* readEvents(connection: NatsConnection, subjects: Subjects, options: ReadEventsOptions): AsyncGenerator<LifecycleEvent> {
  let lastSequence: number;
  try {
    const jsm = await jetstreamManager(connection, { timeout: 5000 });
    lastSequence = (await jsm.streams.info(subjects.eventStream)).state.last_seq;
  } catch {
    if (options.follow) yield* liveEvents(connection, subjects, options.jobId);
    return;
  }
  if (!options.follow && lastSequence === 0) return;
  const consumer = await jetstream(connection).consumers.get(subjects.eventStream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume();
  try {
    for await (const message of messages) {
      const event = message.json<LifecycleEvent>();
      if (options.jobId === undefined || eventJobId(event) === options.jobId) yield event;
      if (!options.follow && message.seq >= lastSequence) break;
    }
  } finally {
    messages.stop();
  }
}

async function* liveEvents(connection: NatsConnection, subjects: Subjects, jobId?: string): AsyncGenerator<LifecycleEvent> {
  const subscription = connection.subscribe(subjects.allEvents);
  try {
    for await (const message of subscription) {
      const event = message.json<LifecycleEvent>();
      if (jobId === undefined || eventJobId(event) === jobId) yield event;
    }
  } finally {
    subscription.unsubscribe();
  }
}
