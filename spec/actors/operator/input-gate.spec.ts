import { expect } from 'chai';
import { InputGate } from '../../../actors/operator/input-gate.ts';
import type { Frame } from '../../../actors/operator/protocol.ts';
import { prng } from '../../helpers/random.ts';

interface Grant { edgeIndex: number; from: number; credits: number }

function gateFor(inputs: { edgeIndex: number; upstreamParallelism: number }[], credits: number) {
  const grants: Grant[] = [];
  const gate = new InputGate(inputs, { credits, grant: (edgeIndex, from, n) => grants.push({ edgeIndex, from, credits: n }) });
  return { gate, grants };
}

const frame = (s: number, r: unknown[], end = false): Frame => (end ? { s, r, e: true } : { s, r });

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

  it('take() returns frames in arrival order across channels, then undefined', () => {
    const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 2 }, { edgeIndex: 1, upstreamParallelism: 1 }], 4);
    gate.open();
    const arrivals: [number, Frame][] = [[0, frame(1, ['a'])], [1, frame(0, ['b'])], [0, frame(0, ['c'])], [0, frame(1, ['d'])]];
    for (const [edge, f] of arrivals) gate.arrive(edge, f);
    expect(gate.queued).to.equal(4);
    const taken = [gate.take(), gate.take(), gate.take(), gate.take()];
    expect(taken).to.deep.equal(arrivals.map(([edgeIndex, f]) => ({ edgeIndex, frame: f })));
    expect(gate.take()).to.equal(undefined);
    expect(gate.queued).to.equal(0);
  });

  it('keeps arrival order through many frames (past its internal compaction)', () => {
    const { gate } = gateFor([{ edgeIndex: 0, upstreamParallelism: 1 }], 10_000);
    const taken: unknown[] = [];
    let sent = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 97; i++) gate.arrive(0, frame(0, [sent++]));
      for (let i = 0; i < 61; i++) taken.push(...gate.take()!.frame.r);
    }
    for (let f = gate.take(); f; f = gate.take()) taken.push(...f.frame.r);
    expect(taken).to.deep.equal(Array.from({ length: sent }, (_, i) => i));
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
  });

  it('never queues more than `credits` frames per channel when senders respect credit (seeded random interleavings)', () => {
    const violations: string[] = [];
    let interleavings = 0;
    let framesMoved = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const random = prng(seed);
      const edges = 1 + Math.floor(random() * 2);
      const inputs = Array.from({ length: edges }, (_, e) => ({ edgeIndex: e * 3, upstreamParallelism: 1 + Math.floor(random() * 4) }));
      const credits = 1 + Math.floor(random() * 10);
      const batch = Math.ceil(credits / 2);

      // One simulated sender per channel: it sends only while it holds credit, then ends.
      interface Sender { edgeIndex: number; from: number; credit: number; toSend: number; sent: number; ended: boolean;
        queued: number; takenSinceGrant: number; received: number[]; endTaken: boolean }
      const senders = new Map<string, Sender>();
      for (const { edgeIndex, upstreamParallelism } of inputs) {
        for (let from = 0; from < upstreamParallelism; from++) {
          senders.set(`${edgeIndex}:${from}`, {
            edgeIndex, from, credit: 0, toSend: Math.floor(random() * 30), sent: 0, ended: false,
            queued: 0, takenSinceGrant: 0, received: [], endTaken: false,
          });
        }
      }
      const all = [...senders.values()];
      const gate = new InputGate(inputs, {
        credits,
        grant: (edgeIndex, from, n) => {
          const sender = senders.get(`${edgeIndex}:${from}`);
          if (!sender) violations.push(`seed ${seed}: credit for unknown channel ${edgeIndex}:${from}`);
          else sender.credit += n;
        },
      });
      gate.open();

      for (let step = 0; ; step++) {
        const ready = all.filter((s) => !s.ended && s.credit > 0);
        const canTake = gate.queued > 0;
        if (ready.length === 0 && !canTake) break;
        if (ready.length > 0 && (!canTake || random() < 0.5)) {
          const s = ready[Math.floor(random() * ready.length)]!;
          s.credit--;
          s.queued++;
          if (s.sent < s.toSend) gate.arrive(s.edgeIndex, frame(s.from, [s.sent++]));
          else {
            s.ended = true;
            gate.arrive(s.edgeIndex, frame(s.from, [], true));
          }
          framesMoved++;
        } else {
          const next = gate.take()!;
          const s = senders.get(`${next.edgeIndex}:${next.frame.s}`)!;
          s.queued--;
          if (next.frame.e) s.endTaken = true;
          else {
            s.received.push(...(next.frame.r as number[]));
            s.takenSinceGrant++;
          }
        }
        for (const s of all) {
          const where = `seed ${seed} step ${step} channel ${s.edgeIndex}:${s.from}`;
          if (s.queued > credits) violations.push(`${where}: ${s.queued} frames queued, window ${credits}`);
          if (s.credit < 0 || s.credit > credits) violations.push(`${where}: sender holds ${s.credit} credit, window ${credits}`);
          // The window is conserved: credit held + frames queued + frames taken but not yet granted back.
          if (!s.ended && s.credit + s.queued + (s.takenSinceGrant % batch) !== credits) {
            violations.push(`${where}: credit ${s.credit} + queued ${s.queued} + ungranted ${s.takenSinceGrant % batch} ≠ ${credits}`);
          }
        }
        const expectFinished = all.every((s) => s.endTaken) && gate.queued === 0;
        if (gate.finished !== expectFinished) violations.push(`seed ${seed} step ${step}: finished ${gate.finished}, expected ${expectFinished}`);
      }

      for (const s of all) {
        const where = `seed ${seed} channel ${s.edgeIndex}:${s.from}`;
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
  });
});
