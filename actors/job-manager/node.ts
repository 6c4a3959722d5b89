import { randomBytes } from 'node:crypto';
import { ActorSystem } from '../../lib/actor/index.ts';
import type { Clock } from '../../lib/clock/index.ts';
import { decodeDescriptor } from '../../lib/descriptor/decode.ts';
import { encode, encodeJson, looksLikeJson } from '../../lib/codec/index.ts';
import { subjectBase, type CloudflinkConfig } from '../../lib/config/index.ts';
import { CloudflinkError } from '../../lib/errors/index.ts';
import { EventPublisher, ensureEventStream } from '../../lib/events/publisher.ts';
import { openShuffleStorage } from '../../lib/shuffle/index.ts';
import { openCheckpointStorage, readMetadataAt } from '../../lib/checkpoint/index.ts';
import { createLogger, type Logger } from '../../lib/log/index.ts';
import { Subjects } from '../../lib/subjects/index.ts';
import { connectNats, type IncomingMessage, type NatsTransport } from '../../lib/transport/index.ts';
import { Scheduler } from '../scheduler/index.ts';
import { JobManager } from './job-manager.actor.ts';
import { JobStore } from './job-store.ts';
import type { SubmitReply } from './protocol.ts';

export interface JobManagerNode {
  id: string;
  subjects: Subjects;
  system: ActorSystem;
  stop(): Promise<void>;
}

/** The answer on `<p>.jobs.submit`, in the request's own encoding (JSON or msgpack). */
export type SubmitAnswer =
  | { ok: true; jobId: string }
  | { ok: false; error: { code: string; message: string; issues?: { path: string; message: string }[] } };

/** A Job Manager process: the JM actor and the Scheduler beside it, on one NATS connection. */
export async function startJobManager(options: { config: CloudflinkConfig; clock?: Clock; logger?: Logger }): Promise<JobManagerNode> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ node: 'jobmanager' }, config.log.level);
  const transport = await connectNats({ ...config.nats, name: 'cloudflink-jobmanager' }, { role: 'node', logger });
  const subjects = new Subjects(subjectBase(config));
  await ensureEventStream(transport.connection, subjects, config.events.retainHours, logger);
  const system = new ActorSystem({ transport, logger, clock: options.clock });
  const events = new EventPublisher(transport, subjects);
  const storage = await openCheckpointStorage(config.checkpoints, transport.connection, subjects.base);
  const shuffle = await openShuffleStorage(config.checkpoints, transport.connection, subjects.base);
  logger.info({ storage: storage.description }, 'checkpoint storage');
  system.spawn(subjects.scheduler, new Scheduler());
  const jobManager = new JobManager(system, subjects, events, {
    heartbeatIntervalMs: config.heartbeat.intervalMs,
    heartbeatTimeoutMs: config.heartbeat.timeoutMs,
    slotWaitMs: config.jobManager.slotWaitMs,
    collectLimit: config.jobManager.collectLimit,
    network: config.network,
    retainedCheckpoints: config.checkpoints.retained,
    storage,
    shuffle,
    readMetadata: (pointer) => readMetadataAt(pointer, transport.connection),
    store: await JobStore.open(transport.connection, subjects.base, logger),
  });
  jobManager.start();
  const submissions = transport.subscribe(subjects.submit, (msg) => void acceptSubmission(msg, system, subjects, events, transport));
  await transport.flush();
  logger.info({ jobManagerId: jobManager.id, subjects: subjects.base }, 'job manager ready');
  return {
    id: jobManager.id,
    subjects,
    system,
    async stop() {
      submissions.unsubscribe();
      await system.shutdown();
      await storage.close();
      await shuffle.close();
      await transport.close();
    },
  };
}

/** Descriptors from any NATS client: JSON or msgpack, by request/reply or plain publish. */
async function acceptSubmission(msg: IncomingMessage, system: ActorSystem, subjects: Subjects, events: EventPublisher, transport: NatsTransport): Promise<void> {
  let answer: SubmitAnswer;
  try {
    const descriptor = decodeDescriptor(msg.data);
    const { jobId } = await system.ask<SubmitReply>(subjects.jobManager, { type: 'submit', descriptor }, 10_000);
    answer = { ok: true, jobId };
  } catch (error) {
    const wire = CloudflinkError.toWire(error);
    const issues = (wire.data as { issues?: { path: string; message: string }[] } | undefined)?.issues;
    answer = { ok: false, error: { code: wire.code, message: wire.message, issues } };
    if (!issues) {
      // Not even a document: no job id was handed out, so announce the rejection under a fresh one.
      events.publish({ type: 'job.rejected', jobId: `rejected-${randomBytes(6).toString('hex')}`, issues: [{ path: '', message: wire.message }], at: new Date().toISOString() });
    }
  }
  if (msg.reply) transport.publish(msg.reply, looksLikeJson(msg.data) ? encodeJson(answer) : encode(answer));
}
