import { expect } from 'chai';
import { InputGate, type TakenFrame } from '../../../actors/operator/input-gate.ts';
import { NumberingInputGate, noFrameLost } from '../../helpers/frames.ts';
import type { Frame } from '../../../actors/operator/protocol.ts';
import { prng } from '../../helpers/random.ts';

interface Grant { edgeIndex: number; from: number; credits: number }

function gateFor(inputs: { edgeIndex: number; upstreamParallelism: number }[], credits: number) {
  const grants: Grant[] = [];
  const gate = new NumberingInputGate(inputs, { credits, grant: (edgeIndex, from, n) => grants.push({ edgeIndex, from, credits: n }), lost: noFrameLost });
  return { gate, grants };
}

/** Numbered by the gate as it arrives (NumberingInputGate). */
const frame = (s: number, r: unknown[], end = false): Frame => (end ? { s, a: 0, n: 0, r, e: true } : { s, a: 0, n: 0, r });

/** Takes every frame that can be taken now. */
function takeAll(gate: InputGate): TakenFrame[] {
  const taken: TakenFrame[] = [];
  for (let next = gate.take(); next; next = gate.take()) taken.push(next);
  return taken;
}

const recordsOf = (taken: TakenFrame[]): unknown[] => taken.flatMap((t) => t.frame.r);

describe('InputGate', () => {
  it('open() grants `credits` to every (edge, upstream subtask) channel', () => {
    const { gate, grants } = gateFor([{ edgeIndex: 0, upstreamParallelism: 3 }, { edgeIndex: 4, upstreamParallelism: 2 }], 8);
    expect(grants).to.be.empty;
    gate.open();
    expect(grants).to.have.deep.members([
      { edgeIndex: 0, from: 0, credits: 8 },
      { edgeIndex: 0, from: 1, credits: 8 },
      { edgeIndex: 0, from: 2, credits: 8 },
      { edgeIndex: 4, from: 0, credits: 8 },
      { edgeIndex: 4, from: 1, credits: 8 },
    ]);
    expect(grants).to.have.length(5);
  });

  it('take() names the edge and the channel `<edgeIndex>:<upstream subtask>` of every frame, then returns undefined', () => {
    const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }, { edgeIndex: 3, upstreamParallelism: 1 }], 4);
    gate.open();
    const f = frame(1, ['x']);
    gate.arrive(0, f);
    expect(gate.queued).to.equal(1);
    expect(gate.take()).to.deep.equal({ edgeIndex: 0, channel: '0:1', frame: f });
    gate.arrive(3, frame(0, ['y']));
    expect(gate.take()).to.include({ edgeIndex: 3, channel: '3:0' });
    expect(gate.take()).to.equal(undefined);
    expect(gate.queued).to.equal(0);
  });

  it('takes frames round robin across channels, keeping the order within each channel', () => {
    const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }, { edgeIndex: 1, upstreamParallelism: 1 }], 8);
    gate.open();
    // Arrival order is not take order: one busy channel must not starve the others.
    for (const r of ['a1', 'a2', 'a3', 'a4']) gate.arrive(0, frame(0, [r]));
    for (const r of ['b1', 'b2']) gate.arrive(0, frame(1, [r]));
    gate.arrive(1, frame(0, ['c1']));
    expect(gate.queued).to.equal(7);
    const taken = takeAll(gate);
    expect(recordsOf(taken)).to.deep.equal(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
    expect(taken.map((t) => t.channel)).to.deep.equal(['0:0', '0:1', '1:0', '0:0', '0:1', '0:0', '0:0']);
  });

  it('carries on round robin after the channel it took last, skipping empty channels', () => {
    const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 3 }], 8);
    gate.arrive(0, frame(1, ['b1']));
    expect(gate.take()!.channel).to.equal('0:1');
    gate.arrive(0, frame(0, ['a1']));
    gate.arrive(0, frame(1, ['b2']));
    gate.arrive(0, frame(2, ['c1']));
    // After 0:1 comes 0:2, then 0:0, then 0:1 again.
    expect(recordsOf(takeAll(gate))).to.deep.equal(['c1', 'a1', 'b2']);
  });

  it('keeps the order of each channel through many frames, with frames arriving between takes', () => {
    const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 3 }], 1_000_000);
    const random = prng(11);
    const sent = [0, 0, 0];
    const received: number[][] = [[], [], []];
    for (let step = 0; step < 20_000; step++) {
      if (random() < 0.55) {
        const s = Math.floor(random() * 3);
        gate.arrive(0, frame(s, [sent[s]!++]));
      } else {
        const next = gate.take();
        if (next) received[next.frame.s]!.push(...(next.frame.r as number[]));
      }
    }
    for (const next of takeAll(gate)) received[next.frame.s]!.push(...(next.frame.r as number[]));
    for (const s of [0, 1, 2]) {
      expect(received[s], `channel 0:${s}`).to.deep.equal(Array.from({ length: sent[s]! }, (_, i) => i));
    }
    expect(sent.reduce((a, b) => a + b)).to.be.greaterThan(10_000);
  });

  it('drops a frame from a channel it does not have', () => {
    const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }], 4);
    gate.arrive(0, frame(2, ['from a subtask that does not exist']));
    gate.arrive(5, frame(0, ['on an edge that does not exist']));
    expect(gate.queued).to.equal(0);
    expect(gate.ready).to.equal(false);
    expect(gate.take()).to.equal(undefined);
  });

  it('grants credit back in batches of half the window, to the channel the frames came from', () => {
    const { gate, grants } = gateFor([{ edgeIndex: 2, upstreamParallelism: 2 }], 8);
    gate.open();
    grants.length = 0;
    for (let i = 0; i < 8; i++) gate.arrive(2, frame(1, [i]));
    for (let i = 0; i < 3; i++) gate.take();
    expect(grants, 'nothing after 3 of 8').to.be.empty;
    gate.take();
    expect(grants).to.deep.equal([{ edgeIndex: 2, from: 1, credits: 4 }]);
    for (let i = 0; i < 4; i++) gate.take();
    expect(grants).to.deep.equal([{ edgeIndex: 2, from: 1, credits: 4 }, { edgeIndex: 2, from: 1, credits: 4 }]);
  });

  it('grants back after every frame with a window of one', () => {
    const { gate, grants } = gateFor([{ edgeIndex: 0, upstreamParallelism: 1 }], 1);
    gate.open();
    grants.length = 0;
    for (let i = 0; i < 3; i++) {
      gate.arrive(0, frame(0, [i]));
      gate.take();
      expect(grants).to.have.length(i + 1);
      expect(grants[i]).to.deep.equal({ edgeIndex: 0, from: 0, credits: 1 });
    }
  });

  describe('blocking channels (barrier alignment)', () => {
    it('takes nothing from a blocked channel, and the other channels carry on', () => {
      const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }, { edgeIndex: 1, upstreamParallelism: 1 }], 8);
      gate.open();
      for (const r of ['a1', 'a2']) gate.arrive(0, frame(0, [r]));
      for (const r of ['b1', 'b2']) gate.arrive(0, frame(1, [r]));
      gate.arrive(1, frame(0, ['c1']));
      gate.block('0:0');
      const taken = takeAll(gate);
      expect(recordsOf(taken)).to.deep.equal(['b1', 'c1', 'b2']);
      expect(taken.map((t) => t.channel)).to.not.include('0:0');
      expect(gate.queued, 'the blocked frames stay queued').to.equal(2);
      expect(gate.take()).to.equal(undefined);

      // Frames keep arriving on a blocked channel, and wait behind the others.
      gate.arrive(0, frame(0, ['a3']));
      gate.arrive(1, frame(0, ['c2']));
      expect(recordsOf(takeAll(gate))).to.deep.equal(['c2']);
      expect(gate.queued).to.equal(3);

      gate.unblockAll();
      expect(recordsOf(takeAll(gate)), 'in their order after the unblock').to.deep.equal(['a1', 'a2', 'a3']);
      expect(gate.queued).to.equal(0);
    });

    it('grants no credit back for a blocked channel, so its sender runs out and stops', () => {
      const { gate, grants } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }], 2);
      gate.open();
      grants.length = 0;
      gate.block('0:1');
      for (let i = 0; i < 2; i++) {
        gate.arrive(0, frame(0, [`a${i}`]));
        gate.arrive(0, frame(1, [`b${i}`]));
      }
      takeAll(gate);
      expect(grants).to.deep.equal([{ edgeIndex: 0, from: 0, credits: 1 }, { edgeIndex: 0, from: 0, credits: 1 }]);
      gate.unblockAll();
      takeAll(gate);
      expect(grants.filter((g) => g.from === 1)).to.deep.equal([{ edgeIndex: 0, from: 1, credits: 1 }, { edgeIndex: 0, from: 1, credits: 1 }]);
    });

    it('is ready only while some channel that is not blocked has a frame', () => {
      const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }], 4);
      expect(gate.ready, 'nothing queued').to.equal(false);
      gate.arrive(0, frame(0, ['a']));
      expect(gate.ready).to.equal(true);
      gate.block('0:0');
      expect(gate.ready, 'the only frame is on a blocked channel').to.equal(false);
      expect(gate.queued).to.equal(1);
      gate.arrive(0, frame(1, ['b']));
      expect(gate.ready).to.equal(true);
      gate.take();
      expect(gate.ready).to.equal(false);
      gate.unblockAll();
      expect(gate.ready).to.equal(true);
      gate.take();
      expect(gate.ready).to.equal(false);
    });

    it('blocks several channels at once and ignores a channel it does not have', () => {
      const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 3 }], 4);
      for (const s of [0, 1, 2]) gate.arrive(0, frame(s, [s]));
      gate.block('0:0');
      gate.block('0:2');
      gate.block('7:0');
      gate.block('0:9');
      expect(recordsOf(takeAll(gate))).to.deep.equal([1]);
      gate.unblockAll();
      // Round robin carries on after 0:1, the channel taken last.
      expect(recordsOf(takeAll(gate))).to.deep.equal([2, 0]);
    });
  });

  describe('end of input', () => {
    it('lists the live channels, dropping one once its end of input is taken (not when it arrives)', () => {
      const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }, { edgeIndex: 1, upstreamParallelism: 1 }], 4);
      expect(gate.liveChannels).to.deep.equal(['0:0', '0:1', '1:0']);
      gate.arrive(0, frame(1, ['last'], true));
      expect(gate.liveChannels, 'arrived, not taken').to.deep.equal(['0:0', '0:1', '1:0']);
      gate.take();
      expect(gate.liveChannels).to.deep.equal(['0:0', '1:0']);
      gate.arrive(1, frame(0, [], true));
      gate.arrive(0, frame(0, [], true));
      takeAll(gate);
      expect(gate.liveChannels).to.deep.equal([]);
    });

    it('is finished only when every channel has sent end of input and the queue is empty', () => {
      const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }, { edgeIndex: 1, upstreamParallelism: 1 }], 4);
      gate.open();
      expect(gate.finished).to.equal(false);
      gate.arrive(0, frame(0, ['a'], true));
      gate.arrive(1, frame(0, [], true));
      expect(gate.finished).to.equal(false);
      gate.take();
      gate.take();
      expect(gate.finished, 'one channel still open').to.equal(false);
      gate.arrive(0, frame(1, ['b']));
      gate.arrive(0, frame(1, [], true));
      expect(gate.finished, 'ends arrived but not taken').to.equal(false);
      gate.take();
      expect(gate.finished).to.equal(false);
      gate.take();
      expect(gate.finished).to.equal(true);
    });

    it('a repeated end of input from one channel does not finish the others', () => {
      const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }], 4);
      gate.arrive(0, frame(0, [], true));
      gate.arrive(0, frame(0, [], true));
      gate.take();
      gate.take();
      expect(gate.finished).to.equal(false);
      expect(gate.liveChannels).to.deep.equal(['0:1']);
    });
  });

  it('never queues more than `credits` frames per channel when senders respect credit, blocked or not (seeded random interleavings)', function () {
    this.timeout(30_000); // many seeded cases; nothing here is timed
    const violations: string[] = [];
    let interleavings = 0;
    let framesMoved = 0;
    let blockedTakes = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const random = prng(seed);
      const edges = 1 + Math.floor(random() * 2);
      const inputs = Array.from({ length: edges }, (_, e) => ({ edgeIndex: e * 3, upstreamParallelism: 1 + Math.floor(random() * 4) }));
      const credits = 1 + Math.floor(random() * 10);
      const batch = Math.ceil(credits / 2);

      // One simulated sender per channel: it sends only while it holds credit, then ends.
      interface Sender { key: string; edgeIndex: number; from: number; credit: number; toSend: number; sent: number; ended: boolean;
        queued: number; takenSinceGrant: number; received: number[]; endTaken: boolean }
      const senders = new Map<string, Sender>();
      for (const { edgeIndex, upstreamParallelism } of inputs) {
        for (let from = 0; from < upstreamParallelism; from++) {
          const key = `${edgeIndex}:${from}`;
          senders.set(key, {
            key, edgeIndex, from, credit: 0, toSend: Math.floor(random() * 30), sent: 0, ended: false,
            queued: 0, takenSinceGrant: 0, received: [], endTaken: false,
          });
        }
      }
      const all = [...senders.values()];
      const blocked = new Set<string>();
      const gate = new NumberingInputGate(inputs, {
        credits,
        lost: noFrameLost,
        grant: (edgeIndex, from, n) => {
          const sender = senders.get(`${edgeIndex}:${from}`);
          if (!sender) violations.push(`seed ${seed}: credit for unknown channel ${edgeIndex}:${from}`);
          else {
            if (blocked.has(sender.key)) violations.push(`seed ${seed}: credit granted to blocked channel ${sender.key}`);
            sender.credit += n;
          }
        },
      });
      gate.open();

      for (let step = 0; ; step++) {
        const ready = all.filter((s) => !s.ended && s.credit > 0);
        const expectReady = all.some((s) => s.queued > 0 && !blocked.has(s.key));
        if (gate.ready !== expectReady) violations.push(`seed ${seed} step ${step}: ready ${gate.ready}, expected ${expectReady}`);
        if (ready.length === 0 && !gate.ready) {
          if (blocked.size === 0) break;
          // Alignment always ends (completed or aborted).
          gate.unblockAll();
          blocked.clear();
          continue;
        }
        const roll = random();
        if (roll < 0.06) {
          const s = all[Math.floor(random() * all.length)]!;
          gate.block(s.key);
          blocked.add(s.key);
        } else if (roll < 0.09) {
          gate.unblockAll();
          blocked.clear();
        } else if (ready.length > 0 && (!gate.ready || roll < 0.55)) {
          const s = ready[Math.floor(random() * ready.length)]!;
          s.credit--;
          s.queued++;
          if (s.sent < s.toSend) gate.arrive(s.edgeIndex, frame(s.from, [s.sent++]));
          else {
            s.ended = true;
            gate.arrive(s.edgeIndex, frame(s.from, [], true));
          }
          framesMoved++;
        } else if (gate.ready) {
          const next = gate.take()!;
          const s = senders.get(next.channel)!;
          if (next.edgeIndex !== s.edgeIndex || next.frame.s !== s.from) violations.push(`seed ${seed} step ${step}: frame of ${next.channel} misnamed`);
          if (blocked.has(s.key)) violations.push(`seed ${seed} step ${step}: took a frame from blocked channel ${s.key}`);
          if (blocked.size > 0) blockedTakes++;
          s.queued--;
          if (next.frame.e) s.endTaken = true;
          else {
            s.received.push(...(next.frame.r as number[]));
            s.takenSinceGrant++;
          }
        }
        for (const s of all) {
          const where = `seed ${seed} step ${step} channel ${s.key}`;
          if (s.queued > credits) violations.push(`${where}: ${s.queued} frames queued, window ${credits}`);
          if (s.credit < 0 || s.credit > credits) violations.push(`${where}: sender holds ${s.credit} credit, window ${credits}`);
          // The window is conserved: credit held + frames queued + frames taken but not yet granted back.
          if (!s.ended && s.credit + s.queued + (s.takenSinceGrant % batch) !== credits) {
            violations.push(`${where}: credit ${s.credit} + queued ${s.queued} + ungranted ${s.takenSinceGrant % batch} ≠ ${credits}`);
          }
        }
        const live = all.filter((s) => !s.endTaken).map((s) => s.key);
        if (gate.liveChannels.join() !== live.join()) violations.push(`seed ${seed} step ${step}: live ${gate.liveChannels.join()}, expected ${live.join()}`);
        const expectFinished = all.every((s) => s.endTaken) && gate.queued === 0;
        if (gate.finished !== expectFinished) violations.push(`seed ${seed} step ${step}: finished ${gate.finished}, expected ${expectFinished}`);
      }

      for (const s of all) {
        const where = `seed ${seed} channel ${s.key}`;
        if (!s.ended || !s.endTaken) violations.push(`${where}: stalled after ${s.sent} of ${s.toSend} frames`);
        if (s.received.join() !== Array.from({ length: s.toSend }, (_, i) => i).join()) violations.push(`${where}: frames out of order or lost`);
      }
      if (!gate.finished) violations.push(`seed ${seed}: not finished after every channel ended`);
      interleavings++;
      if (violations.length > 20) break;
    }
    expect(violations).to.deep.equal([]);
    expect(interleavings).to.equal(3000);
    expect(framesMoved).to.be.greaterThan(30_000);
    expect(blockedTakes, 'frames were taken while some channel was blocked').to.be.greaterThan(1000);
  });
});

describe('InputGate: frame numbering (loss detection)', () => {
  interface Loss { edgeIndex: number; from: number; missing: number }

  /** A gate that takes the numbers as they come, as over NATS, and records every loss it reports. */
  function lossGate(inputs: { edgeIndex: number; upstreamParallelism: number }[], credits = 1_000_000) {
    const losses: Loss[] = [];
    const gate = new InputGate(inputs, { credits, grant: () => {}, lost: (edgeIndex, from, missing) => losses.push({ edgeIndex, from, missing }) });
    return { gate, losses };
  }

  const numbered = (s: number, n: number, r: unknown[], end = false): Frame => (end ? { s, a: 0, n, r, e: true } : { s, a: 0, n, r });

  it('reports no loss when each channel\'s frames come numbered 0, 1, 2, …, channels interleaved', () => {
    const { gate, losses } = lossGate([{ edgeIndex: 0, upstreamParallelism: 2 }, { edgeIndex: 3, upstreamParallelism: 1 }]);
    const next = new Map<string, number>();
    const random = prng(3);
    for (let i = 0; i < 300; i++) {
      const [edgeIndex, s] = ([[0, 0], [0, 1], [3, 0]] as const)[Math.floor(random() * 3)]!;
      const n = next.get(`${edgeIndex}:${s}`) ?? 0;
      next.set(`${edgeIndex}:${s}`, n + 1);
      gate.arrive(edgeIndex, numbered(s, n, [i]));
    }
    expect(losses).to.deep.equal([]);
    expect(gate.framesLost).to.equal(0);
    expect(gate.framesIn).to.equal(300);
    expect(takeAll(gate)).to.have.length(300);
  });

  it('counts a gap as framesLost and reports lost(edge, from subtask, frames missing)', () => {
    const { gate, losses } = lossGate([{ edgeIndex: 3, upstreamParallelism: 2 }]);
    gate.arrive(3, numbered(1, 0, ['a']));
    gate.arrive(3, numbered(1, 1, ['b']));
    gate.arrive(3, numbered(1, 4, ['e']));
    expect(losses).to.deep.equal([{ edgeIndex: 3, from: 1, missing: 2 }]);
    expect(gate.framesLost).to.equal(2);
    gate.arrive(3, numbered(1, 5, ['f']));
    expect(losses, 'numbering goes on from the frame after the gap').to.have.length(1);
    gate.arrive(3, numbered(0, 1, ['x']));
    expect(losses.at(-1)).to.deep.equal({ edgeIndex: 3, from: 0, missing: 1 });
    expect(gate.framesLost).to.equal(3);
    expect(gate.framesIn, 'frames that did arrive are counted in').to.equal(5);
  });

  it('counts a lost first frame (a channel that starts above 0)', () => {
    const { gate, losses } = lossGate([{ edgeIndex: 0, upstreamParallelism: 1 }]);
    gate.arrive(0, numbered(0, 3, ['d'], true));
    expect(losses).to.deep.equal([{ edgeIndex: 0, from: 0, missing: 3 }]);
  });

  it('counts a frame numbered behind the one expected (repeated or reordered) as a loss too', () => {
    const { gate, losses } = lossGate([{ edgeIndex: 0, upstreamParallelism: 1 }]);
    gate.arrive(0, numbered(0, 0, ['a']));
    gate.arrive(0, numbered(0, 1, ['b']));
    gate.arrive(0, numbered(0, 1, ['b again']));
    expect(losses).to.deep.equal([{ edgeIndex: 0, from: 0, missing: 1 }]);
    expect(gate.framesLost).to.equal(1);
  });

  it('neither counts nor reports frames of a channel it does not have', () => {
    const { gate, losses } = lossGate([{ edgeIndex: 0, upstreamParallelism: 1 }]);
    gate.arrive(0, numbered(5, 9, ['x']));
    gate.arrive(2, numbered(0, 9, ['y']));
    expect(losses).to.deep.equal([]);
    expect(gate.framesLost).to.equal(0);
    expect(gate.framesIn).to.equal(0);
  });

  it('counts exactly the frames dropped on the way, and delivers every other frame in order (seeded random)', () => {
    const violations: string[] = [];
    let dropped = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const upstream = 1 + Math.floor(random() * 4);
      const { gate, losses } = lossGate([{ edgeIndex: 2, upstreamParallelism: upstream }]);
      const dropRate = random() * 0.3;
      const sent = new Array<number>(upstream).fill(0);
      const expectedLost = new Array<number>(upstream).fill(0);
      const delivered: number[][] = Array.from({ length: upstream }, () => []);
      for (let step = 0; step < 400; step++) {
        const s = Math.floor(random() * upstream);
        const n = sent[s]!++;
        if (random() < dropRate) {
          expectedLost[s]!++;
          continue;
        }
        delivered[s]!.push(n);
        gate.arrive(2, numbered(s, n, [n]));
      }
      // A loss is seen when the next frame arrives: close each channel with one that gets through.
      for (let s = 0; s < upstream; s++) {
        delivered[s]!.push(sent[s]!);
        gate.arrive(2, numbered(s, sent[s]!, [sent[s]!], true));
      }
      const lostBy = new Array<number>(upstream).fill(0);
      for (const loss of losses) {
        if (loss.edgeIndex !== 2) violations.push(`seed ${seed}: loss on edge ${loss.edgeIndex}`);
        lostBy[loss.from]! += loss.missing;
      }
      if (lostBy.join() !== expectedLost.join()) violations.push(`seed ${seed}: reported ${lostBy.join()}, dropped ${expectedLost.join()}`);
      const total = expectedLost.reduce((a, b) => a + b);
      if (gate.framesLost !== total) violations.push(`seed ${seed}: framesLost ${gate.framesLost}, dropped ${total}`);
      dropped += total;
      const taken: number[][] = Array.from({ length: upstream }, () => []);
      for (const t of takeAll(gate)) taken[t.frame.s]!.push(...(t.frame.r as number[]));
      if (JSON.stringify(taken) !== JSON.stringify(delivered)) violations.push(`seed ${seed}: frames taken are not those delivered, in order`);
    }
    expect(violations).to.deep.equal([]);
    expect(dropped).to.be.greaterThan(5000);
  });
});

describe('InputGate: peakQueuedFrames', () => {
  it('is the most frames ever queued on one channel, not over all of them, and stays once reached', () => {
    const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }], 8);
    expect(gate.peakQueuedFrames).to.equal(0);
    for (const s of [0, 0, 0, 1, 1]) gate.arrive(0, frame(s, [s]));
    expect(gate.queued).to.equal(5);
    expect(gate.peakQueuedFrames).to.equal(3);
    takeAll(gate);
    gate.arrive(0, frame(1, ['x']));
    expect(gate.peakQueuedFrames).to.equal(3);
  });

  it('never rises above the credits granted when senders respect credit, and reaches them when the receiver lags (seeded random)', () => {
    const violations: string[] = [];
    let reachedWindow = 0;
    for (let seed = 1; seed <= 1000; seed++) {
      const random = prng(seed);
      const upstream = 1 + Math.floor(random() * 3);
      const credits = 1 + Math.floor(random() * 8);
      const held = new Array<number>(upstream).fill(0);
      const queued = new Array<number>(upstream).fill(0);
      let observedPeak = 0;
      const gate = new NumberingInputGate([{ edgeIndex: 1, upstreamParallelism: upstream }], {
        credits, lost: noFrameLost, grant: (_edge, from, n) => { held[from]! += n; },
      });
      gate.open();
      // How often the receiver takes: sometimes far slower than the senders send.
      const takeRate = 0.05 + random() * 0.6;
      for (let step = 0; step < 400; step++) {
        const roll = random();
        if (roll < 0.04) gate.block(`1:${Math.floor(random() * upstream)}`);
        else if (roll < 0.08) gate.unblockAll();
        else if (roll < takeRate) {
          const next = gate.take();
          if (next) queued[next.frame.s]!--;
        } else {
          const s = Math.floor(random() * upstream);
          if (held[s]! === 0) continue;
          held[s]!--;
          queued[s]!++;
          observedPeak = Math.max(observedPeak, queued[s]!);
          gate.arrive(1, frame(s, [step]));
        }
      }
      if (gate.peakQueuedFrames > credits) violations.push(`seed ${seed}: peak ${gate.peakQueuedFrames} above ${credits} credits`);
      if (gate.peakQueuedFrames !== observedPeak) violations.push(`seed ${seed}: peak ${gate.peakQueuedFrames}, queued at most ${observedPeak}`);
      if (gate.peakQueuedFrames === credits) reachedWindow++;
    }
    expect(violations).to.deep.equal([]);
    expect(reachedWindow, 'the bound is reached, so it is what holds the queue back').to.be.greaterThan(300);
  });
});
