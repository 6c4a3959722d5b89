import type { ActorContext, Behavior } from '../../lib/actor/index.ts';
import type { TimerHandle } from '../../lib/clock/index.ts';
import type { JobManagerMessage } from '../job-manager/protocol.ts';
import type { SchedulerMessage, SchedulerView, SlotRef } from './protocol.ts';

interface TaskManagerSlots {
  tmId: string;
  /** jobId per slot, or undefined when the slot is free. */
  slots: (string | undefined)[];
}

interface PendingRequest {
  requestId: string;
  jobId: string;
  count: number;
  replyTo: string;
  timer: TimerHandle;
}

/**
 * Places a job's subtasks on slots. With slot sharing a job needs as many slots as its
 * widest vertex; the slots are taken one per TM in turn, most free first, so load spreads.
 * A request that cannot be met waits, first come first served, until slots free up or it
 * times out.
 */
export class Scheduler implements Behavior<SchedulerMessage> {
  private readonly taskManagers = new Map<string, TaskManagerSlots>();
  private readonly pending: PendingRequest[] = [];

  receive(msg: SchedulerMessage, ctx: ActorContext): unknown {
    switch (msg.type) {
      case 'tm-added': {
        const existing = this.taskManagers.get(msg.tmId);
        this.taskManagers.set(msg.tmId, { tmId: msg.tmId, slots: existing?.slots.length === msg.slots ? existing.slots : new Array(msg.slots).fill(undefined) });
        this.serve(ctx);
        return;
      }
      case 'tm-removed':
        this.taskManagers.delete(msg.tmId);
        return;
      case 'request-slots': {
        const timer = ctx.clock.setTimeout(() => ctx.tell(ctx.self, { type: 'request-expired', requestId: msg.requestId }), msg.timeoutMs);
        this.pending.push({ requestId: msg.requestId, jobId: msg.jobId, count: msg.count, replyTo: msg.replyTo, timer });
        this.serve(ctx);
        return;
      }
      case 'cancel-request':
        this.dropRequest(msg.requestId, ctx);
        return;
      case 'request-expired': {
        const request = this.dropRequest(msg.requestId, ctx);
        if (request) {
          ctx.tell<JobManagerMessage>(request.replyTo,
            { type: 'slots-unavailable', requestId: request.requestId, needs: request.count, total: this.totalSlots() });
        }
        return;
      }
      case 'release-slots':
        for (const tm of this.taskManagers.values()) {
          tm.slots = tm.slots.map((job, slot) =>
            (job === msg.jobId && (!msg.slots || msg.slots.some((s) => s.tmId === tm.tmId && s.slot === slot)) ? undefined : job));
        }
        this.serve(ctx);
        return;
      case 'view':
        return this.view();
      default: {
        const never: never = msg;
        throw new Error(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  stopped(ctx: ActorContext): void {
    for (const request of this.pending.splice(0)) ctx.clock.clearTimeout(request.timer);
  }

  private serve(ctx: ActorContext): void {
    while (this.pending.length > 0) {
      const request = this.pending[0]!;
      const slots = this.allocate(request.jobId, request.count);
      if (!slots) return;
      this.pending.shift();
      ctx.clock.clearTimeout(request.timer);
      ctx.tell<JobManagerMessage>(request.replyTo, { type: 'slots-granted', requestId: request.requestId, slots });
    }
  }

  private allocate(jobId: string, count: number): SlotRef[] | undefined {
    const free = [...this.taskManagers.values()].map((tm) => ({
      tmId: tm.tmId,
      free: tm.slots.flatMap((job, slot) => (job === undefined ? [slot] : [])),
    }));
    if (free.reduce((n, tm) => n + tm.free.length, 0) < count) return undefined;
    const chosen: SlotRef[] = [];
    while (chosen.length < count) {
      free.sort((a, b) => b.free.length - a.free.length || a.tmId.localeCompare(b.tmId));
      const tm = free[0]!;
      chosen.push({ tmId: tm.tmId, slot: tm.free.shift()! });
    }
    for (const { tmId, slot } of chosen) this.taskManagers.get(tmId)!.slots[slot] = jobId;
    return chosen;
  }

  private dropRequest(requestId: string, ctx: ActorContext): PendingRequest | undefined {
    const index = this.pending.findIndex((r) => r.requestId === requestId);
    if (index < 0) return undefined;
    const [request] = this.pending.splice(index, 1);
    ctx.clock.clearTimeout(request!.timer);
    return request;
  }

  private totalSlots(): number {
    let total = 0;
    for (const tm of this.taskManagers.values()) total += tm.slots.length;
    return total;
  }

  private view(): SchedulerView {
    return {
      taskManagers: [...this.taskManagers.values()].map((tm) => ({
        tmId: tm.tmId,
        slots: tm.slots.length,
        used: tm.slots.flatMap((jobId, slot) => (jobId === undefined ? [] : [{ slot, jobId }])),
      })),
      pending: this.pending.map(({ requestId, jobId, count }) => ({ requestId, jobId, count })),
    };
  }
}
