export { Scheduler } from './scheduler.actor.ts';
export type { SchedulerMessage, SchedulerView, SlotRef } from './protocol.ts';
