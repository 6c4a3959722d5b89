import { expect } from 'chai';
import type { ActorContext, Message } from '../../../lib/actor/index.ts';
import { ManualClock } from '../../../lib/clock/index.ts';
import { silentLogger } from '../../../lib/log/index.ts';
import { Scheduler } from '../../../actors/scheduler/scheduler.actor.ts';
import type { SchedulerMessage, SchedulerView, SlotRef } from '../../../actors/scheduler/protocol.ts';

const SELF = 'p.sched';
const JM = 'p.jm';

interface Told { to: string; msg: Message & Record<string, unknown> }

/** One Scheduler behaviour and a fake context that records what it tells, on a ManualClock. */
function scheduler() {
  const clock = new ManualClock(1_000);
  const told: Told[] = [];
  const ctx: ActorContext = {
    self: SELF,
    log: silentLogger(),
    clock,
    tell: (to, msg) => { told.push({ to, msg: msg as Told['msg'] }); },
    ask: () => Promise.reject(new Error('the Scheduler does not ask')),
  };
  const behaviour = new Scheduler();
  const send = (msg: SchedulerMessage): unknown => behaviour.receive(msg, ctx);
  return {
    clock,
    told,
    send,
    view: () => send({ type: 'view' }) as SchedulerView,
    request: (requestId: string, jobId: string, count: number, timeoutMs = 30_000) =>
      send({ type: 'request-slots', requestId, jobId, count, timeoutMs, replyTo: JM }),
    /** Tells to the Job Manager, in order. */
    replies: () => told.filter((t) => t.to === JM).map((t) => t.msg),
    /** Feeds what the Scheduler told itself back in, as its mailbox would. */
    deliverToSelf: () => {
      const mine = told.filter((t) => t.to === SELF);
      told.splice(0, told.length, ...told.filter((t) => t.to !== SELF));
      for (const t of mine) send(t.msg as SchedulerMessage);
      return mine.length;
    },
  };
}

const perTm = (slots: SlotRef[]): Record<string, number> =>
  slots.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s.tmId]: (acc[s.tmId] ?? 0) + 1 }), {});

const grantedSlots = (msg: Record<string, unknown>): SlotRef[] => msg.slots as SlotRef[];

describe('Scheduler', () => {
  it('spreads a request over task managers: 4 slots over 2 TMs × 2 gives 2 on each', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    s.send({ type: 'tm-added', tmId: 'tm-b', slots: 2 });
    s.request('r1', 'job-1', 4);
    const replies = s.replies();
    expect(replies).to.have.length(1);
    expect(replies[0]).to.include({ type: 'slots-granted', requestId: 'r1' });
    const slots = grantedSlots(replies[0]!);
    expect(perTm(slots)).to.deep.equal({ 'tm-a': 2, 'tm-b': 2 });
    expect(new Set(slots.map((x) => `${x.tmId}/${x.slot}`)).size, 'no slot twice').to.equal(4);
    expect(s.clock.pending, 'the timeout is cleared once granted').to.equal(0);
  });

  it('puts 2 slots on 2 different TMs, taking the TM with the most free slots first', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    s.send({ type: 'tm-added', tmId: 'tm-b', slots: 2 });
    s.request('r1', 'job-1', 2);
    expect(perTm(grantedSlots(s.replies()[0]!))).to.deep.equal({ 'tm-a': 1, 'tm-b': 1 });

    const t = scheduler();
    t.send({ type: 'tm-added', tmId: 'tm-small', slots: 1 });
    t.send({ type: 'tm-added', tmId: 'tm-big', slots: 4 });
    t.request('r1', 'job-1', 3);
    // 4 free against 1, then 3 against 1, then 2 against 1: the big TM each time.
    expect(perTm(grantedSlots(t.replies()[0]!))).to.deep.equal({ 'tm-big': 3 });
    t.request('r2', 'job-2', 2);
    expect(perTm(grantedSlots(t.replies()[1]!))).to.deep.equal({ 'tm-big': 1, 'tm-small': 1 });
  });

  it('never hands a slot to two jobs', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 3 });
    s.send({ type: 'tm-added', tmId: 'tm-b', slots: 2 });
    s.request('r1', 'job-1', 2);
    s.request('r2', 'job-2', 3);
    const all = s.replies().flatMap((m) => grantedSlots(m).map((x) => `${x.tmId}/${x.slot}`));
    expect(all).to.have.length(5);
    expect(new Set(all).size).to.equal(5);
    s.request('r3', 'job-3', 1);
    expect(s.replies(), 'the cluster is full').to.have.length(2);
  });

  it('keeps a request larger than the cluster waiting, and grants it when a TM is added', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    s.send({ type: 'tm-added', tmId: 'tm-b', slots: 2 });
    s.request('r1', 'job-1', 5);
    expect(s.told).to.be.empty;
    expect(s.view().pending).to.deep.equal([{ requestId: 'r1', jobId: 'job-1', count: 5 }]);
    expect(s.clock.pending).to.equal(1);

    s.send({ type: 'tm-added', tmId: 'tm-c', slots: 1 });
    const replies = s.replies();
    expect(replies).to.have.length(1);
    expect(replies[0]).to.include({ type: 'slots-granted', requestId: 'r1' });
    expect(perTm(grantedSlots(replies[0]!))).to.deep.equal({ 'tm-a': 2, 'tm-b': 2, 'tm-c': 1 });
    expect(s.view().pending).to.be.empty;
    expect(s.clock.pending).to.equal(0);
  });

  it('answers slots-unavailable { needs, total } when a request times out', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    s.send({ type: 'tm-added', tmId: 'tm-b', slots: 2 });
    s.request('r1', 'job-1', 5, 10_000);
    s.clock.advance(9_999);
    expect(s.told).to.be.empty;
    s.clock.advance(1);
    expect(s.told).to.deep.equal([{ to: SELF, msg: { type: 'request-expired', requestId: 'r1' } }]);
    expect(s.replies(), 'nothing until the mailbox delivers the expiry').to.be.empty;

    expect(s.deliverToSelf()).to.equal(1);
    expect(s.replies()).to.deep.equal([{ type: 'slots-unavailable', requestId: 'r1', needs: 5, total: 4 }]);
    expect(s.view().pending).to.be.empty;

    // A TM arriving later does not revive the expired request.
    s.send({ type: 'tm-added', tmId: 'tm-c', slots: 4 });
    expect(s.replies()).to.have.length(1);
  });

  it('ignores an expiry that arrives after the request was granted', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 1 });
    s.request('r1', 'job-1', 1, 10);
    s.send({ type: 'request-expired', requestId: 'r1' });
    expect(s.replies().map((m) => m.type)).to.deep.equal(['slots-granted']);
  });

  it('release-slots frees the job\'s slots, and only its own', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    s.send({ type: 'tm-added', tmId: 'tm-b', slots: 2 });
    s.request('r1', 'job-1', 2);
    s.request('r2', 'job-2', 2);
    s.send({ type: 'release-slots', jobId: 'job-1' });
    const used = s.view().taskManagers.flatMap((tm) => tm.used.map((u) => u.jobId));
    expect(used).to.deep.equal(['job-2', 'job-2']);
    s.request('r3', 'job-3', 2);
    expect(s.replies().map((m) => m.requestId)).to.deep.equal(['r1', 'r2', 'r3']);
  });

  it('serves waiting requests first come, first served when slots are released', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    s.send({ type: 'tm-added', tmId: 'tm-b', slots: 2 });
    s.request('r-a', 'job-a', 4);
    s.request('r-b', 'job-b', 3);
    s.request('r-c', 'job-c', 1);
    s.request('r-d', 'job-d', 1);
    expect(s.replies().map((m) => m.requestId)).to.deep.equal(['r-a']);
    expect(s.view().pending.map((p) => p.requestId)).to.deep.equal(['r-b', 'r-c', 'r-d']);

    s.send({ type: 'release-slots', jobId: 'job-a' });
    expect(s.replies().map((m) => m.requestId)).to.deep.equal(['r-a', 'r-b', 'r-c']);
    expect(s.view().pending.map((p) => p.requestId)).to.deep.equal(['r-d']);
    expect(s.clock.pending, 'only r-d still has a timeout').to.equal(1);

    s.send({ type: 'release-slots', jobId: 'job-b' });
    expect(s.replies().map((m) => m.requestId)).to.deep.equal(['r-a', 'r-b', 'r-c', 'r-d']);
  });

  it('does not let a later small request overtake an earlier one that waits', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 4 });
    s.request('r1', 'job-1', 2);
    s.request('r2', 'job-2', 3);
    s.request('r3', 'job-3', 1);
    expect(s.replies().map((m) => m.requestId)).to.deep.equal(['r1']);
    s.send({ type: 'release-slots', jobId: 'job-1' });
    expect(s.replies().map((m) => m.requestId)).to.deep.equal(['r1', 'r2', 'r3']);
  });

  it('tm-removed drops the TM and its slots', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    s.send({ type: 'tm-added', tmId: 'tm-b', slots: 2 });
    s.request('r1', 'job-1', 4);
    s.send({ type: 'tm-removed', tmId: 'tm-a' });
    expect(s.view().taskManagers.map((tm) => tm.tmId)).to.deep.equal(['tm-b']);

    s.send({ type: 'release-slots', jobId: 'job-1' });
    s.request('r2', 'job-2', 3, 100);
    expect(s.replies().map((m) => m.requestId), 'only 2 slots left').to.deep.equal(['r1']);
    s.clock.advance(100);
    s.deliverToSelf();
    expect(s.replies()[1]).to.deep.equal({ type: 'slots-unavailable', requestId: 'r2', needs: 3, total: 2 });

    s.request('r3', 'job-3', 2);
    expect(perTm(grantedSlots(s.replies()[2]!))).to.deep.equal({ 'tm-b': 2 });
  });

  it('gives a TM that registers again with fresh slots when its slot count changed', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    s.request('r1', 'job-1', 2);
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    expect(s.view().taskManagers[0]!.used, 'the same slots: assignments kept').to.have.length(2);
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 3 });
    expect(s.view().taskManagers).to.deep.equal([{ tmId: 'tm-a', slots: 3, used: [] }]);
  });

  it('cancel-request drops the request and clears its timer', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 1 });
    s.request('r1', 'job-1', 2, 5_000);
    expect(s.clock.pending).to.equal(1);
    s.send({ type: 'cancel-request', requestId: 'r1' });
    expect(s.clock.pending).to.equal(0);
    expect(s.view().pending).to.be.empty;
    s.clock.advance(60_000);
    expect(s.told).to.be.empty;
    s.send({ type: 'tm-added', tmId: 'tm-b', slots: 4 });
    expect(s.told, 'a cancelled request is never granted').to.be.empty;
    s.send({ type: 'cancel-request', requestId: 'r1' });
    s.send({ type: 'cancel-request', requestId: 'never-made' });
  });

  it('grants a request of 0 slots at once', () => {
    const s = scheduler();
    s.request('r1', 'job-1', 0);
    expect(s.replies()).to.deep.equal([{ type: 'slots-granted', requestId: 'r1', slots: [] }]);
  });

  it('view lists the TMs with their used slots and the waiting requests', () => {
    const s = scheduler();
    s.send({ type: 'tm-added', tmId: 'tm-a', slots: 2 });
    s.request('r1', 'job-1', 1);
    s.request('r2', 'job-2', 5);
    expect(s.view()).to.deep.equal({
      taskManagers: [{ tmId: 'tm-a', slots: 2, used: [{ slot: 0, jobId: 'job-1' }] }],
      pending: [{ requestId: 'r2', jobId: 'job-2', count: 5 }],
    });
  });
});
