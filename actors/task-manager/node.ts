import { hostname } from 'node:os';
import { ActorSystem } from '../../lib/actor/index.ts';
import type { Clock } from '../../lib/clock/index.ts';
import { subjectBase, type CloudflinkConfig } from '../../lib/config/index.ts';
import { createLogger, type Logger } from '../../lib/log/index.ts';
import { Subjects } from '../../lib/subjects/index.ts';
import { connectNats } from '../../lib/transport/index.ts';
import { openShuffleStorage } from '../../lib/shuffle/index.ts';
import { openCheckpointStorage } from '../../lib/checkpoint/index.ts';
import { TaskManager, type RegistrationOutcome } from './task-manager.actor.ts';

export interface TaskManagerNode {
  tmId: string;
  /** Settles on the first registration with the Job Manager: registered, or refused and why. */
  registration: Promise<RegistrationOutcome>;
  readonly runningTasks: number;
  stop(): Promise<void>;
}

/** A default id that is a valid subject token and tells where the process runs. */
export function defaultTaskManagerId(): string {
  return `tm-${hostname().replace(/[^A-Za-z0-9_-]/g, '_')}-${process.pid}`;
}

export async function startTaskManager(options: { config: CloudflinkConfig; tmId?: string; slots?: number; clock?: Clock; logger?: Logger }): Promise<TaskManagerNode> {
  const { config } = options;
  const tmId = options.tmId ?? defaultTaskManagerId();
  const logger = options.logger ?? createLogger({ node: 'taskmanager', tmId }, config.log.level);
  const transport = await connectNats({ ...config.nats, name: `cloudflink-${tmId}` }, { role: 'node', logger });
  const subjects = new Subjects(subjectBase(config));
  const system = new ActorSystem({ transport, logger, clock: options.clock });
  const storage = await openCheckpointStorage(config.checkpoints, transport.connection, subjects.base);
  const shuffle = await openShuffleStorage(config.checkpoints, transport.connection, subjects.base);
  const taskManager = new TaskManager(system, subjects, {
    storage,
    shuffle,
    tmId,
    slots: options.slots ?? config.taskManager.slots,
    heartbeatIntervalMs: config.heartbeat.intervalMs,
    heartbeatTimeoutMs: config.heartbeat.timeoutMs,
  });
  taskManager.start();
  await transport.flush();
  return {
    tmId,
    registration: taskManager.registration,
    get runningTasks() { return taskManager.runningTasks; },
    async stop() {
      await system.shutdown();
      await storage.close();
      await shuffle.close();
      await transport.close();
    },
  };
}
