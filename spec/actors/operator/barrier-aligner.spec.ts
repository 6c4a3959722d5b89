import { expect } from 'chai';
import { BarrierAligner, type AlignedBarrier, type CheckpointingMode } from '../../../actors/operator/barrier-aligner.ts';
import { NumberingInputGate, noFrameLost } from '../../helpers/frames.ts';
import type { Frame } from '../../../actors/operator/protocol.ts';
import { ManualClock } from '../../../lib/clock/index.ts';
import { prng } from '../../helpers/random.ts';

/** Three input channels over two edges: A and B from a vertex of parallelism 2, C from another. */
const A = '0:0';
const B = '0:1';
const C = '1:0';
const THREE = [{ edgeIndex: 0, upstreamParallelism: 2 }, { edgeIndex: 1, upstreamParallelism: 1 }];

type Step = { record: unknown } | { checkpoint: AlignedBarrier };

/** An input gate, an aligner on a manual clock, and a pump that does what the operator instance does with a frame. */
function harness(inputs: { edgeIndex: number; upstreamParallelism: number }[], mode: CheckpointingMode) {
  const clock = new ManualClock(1_000);
  const gate = new NumberingInputGate(inputs, { credits: 1_000, grant: () => {}, lost: noFrameLost });
  gate.open();
  const aligner = new BarrierAligner(gate, mode, () => clock.now());
  const steps: Step[] = [];
  const send = (channel: string, marks: { r?: unknown[]; b?: number; e?: true }): void => {
    const [edgeIndex, s] = channel.split(':').map(Number) as [number, number];
    const frame: Frame = { s, a: 0, n: 0, r: marks.r ?? [], ...(marks.b === undefined ? {} : { b: marks.b }), ...(marks.e ? { e: true as const } : {}) };
    gate.arrive(edgeIndex, frame);
  };
  /** Takes every frame it can: its records, then its barrier, then its end of input. */
  const pump = (): void => {
    for (let next = gate.take(); next; next = gate.take()) {
      for (const record of next.frame.r) steps.push({ record });
      const aligned = next.frame.b === undefined ? undefined : aligner.onBarrier(next.channel, next.frame.b);
      const alignedByEnd = next.frame.e ? aligner.onChannelEnded() : undefined;
      const ready = aligned ?? alignedByEnd;
      if (ready) steps.push({ checkpoint: ready });
    }
  };
  const records = (): unknown[] => steps.flatMap((s) => ('record' in s ? [s.record] : []));
  const checkpoints = (): AlignedBarrier[] => steps.flatMap((s) => ('checkpoint' in s ? [s.checkpoint] : []));
  return { clock, gate, aligner, steps, send, pump, records, checkpoints };
}

describe('BarrierAligner', () => {
  describe('exactly-once', () => {
    it('holds a channel back from its barrier until every other channel has delivered it, then completes with the alignment time', () => {
      const h = harness(THREE, 'exactly-once');
      h.send(A, { r: ['a1'], b: 1 });
      h.send(A, { r: ['a2'] });
      h.pump();
      expect(h.records()).to.deep.equal(['a1']);
      expect(h.aligner.aligning).to.equal(1);
      expect(h.gate.ready, 'a2 waits behind the barrier').to.equal(false);
      expect(h.gate.queued).to.equal(1);

      h.clock.advance(30);
      h.send(B, { r: ['b1'] });
      h.pump();
      h.clock.advance(20);
      h.send(B, { r: ['b2'], b: 1 });
      h.send(B, { r: ['b3'] });
      h.send(C, { r: ['c1'] });
      h.pump();
      // Records before the barrier keep flowing on the channels that have not delivered it.
      expect(h.records()).to.have.members(['a1', 'b1', 'b2', 'c1']);
      expect(h.checkpoints()).to.be.empty;
      expect(h.gate.queued, 'a2 and b3').to.equal(2);

      h.clock.advance(25);
      h.send(C, { r: ['c2'], b: 1 });
      h.send(C, { r: ['c3'] });
      h.pump();
      expect(h.aligner.aligning).to.equal(undefined);
      const at = h.steps.findIndex((s) => 'checkpoint' in s);
      expect(h.steps[at]).to.deep.equal({ checkpoint: { checkpointId: 1, alignmentMs: 75 } });
      // The snapshot sees every record before the barrier and none after it.
      const before = h.steps.slice(0, at).map((s) => (s as { record: unknown }).record);
      const after = h.steps.slice(at + 1).map((s) => (s as { record: unknown }).record);
      expect(before).to.have.members(['a1', 'b1', 'b2', 'c1', 'c2']);
      expect(after).to.have.members(['a2', 'b3', 'c3']);
      expect(h.gate.queued).to.equal(0);
    });

    it('completes consecutive checkpoints, each measured from its own first barrier', () => {
      const h = harness(THREE, 'exactly-once');
      for (const [id, gaps] of [[1, [0, 5, 5]], [2, [40, 0, 60]], [3, [1, 1, 1]]] as const) {
        for (const [i, channel] of [A, B, C].entries()) {
          h.clock.advance(gaps[i]!);
          h.send(channel, { r: [`${channel}@${id}`], b: id });
          h.pump();
        }
      }
      expect(h.checkpoints()).to.deep.equal([
        { checkpointId: 1, alignmentMs: 10 },
        { checkpointId: 2, alignmentMs: 60 },
        { checkpointId: 3, alignmentMs: 2 },
      ]);
    });

    it('counts a channel that ended before the barrier as arrived', () => {
      const h = harness(THREE, 'exactly-once');
      h.send(C, { r: ['c-last'], e: true });
      h.pump();
      expect(h.gate.liveChannels).to.deep.equal([A, B]);
      expect(h.aligner.onChannelEnded(), 'nothing to align yet').to.equal(undefined);
      h.send(A, { b: 1 });
      h.pump();
      h.clock.advance(8);
      h.send(B, { b: 1 });
      h.pump();
      expect(h.checkpoints()).to.deep.equal([{ checkpointId: 1, alignmentMs: 8 }]);
    });

    it('counts a channel that ends during the alignment as arrived, after its last records', () => {
      const h = harness(THREE, 'exactly-once');
      h.send(A, { b: 1 });
      h.send(A, { r: ['a-after'] });
      h.send(B, { r: ['b-before'], b: 1 });
      h.pump();
      expect(h.checkpoints()).to.be.empty;
      h.clock.advance(12);
      h.send(C, { r: ['c-last'], e: true });
      h.pump();
      expect(h.steps).to.deep.equal([
        { record: 'b-before' },
        { record: 'c-last' },
        { checkpoint: { checkpointId: 1, alignmentMs: 12 } },
        { record: 'a-after' },
      ]);
    });

    it('completes at once when the barrier comes from the only live channel', () => {
      const h = harness(THREE, 'exactly-once');
      h.send(A, { e: true });
      h.send(C, { e: true });
      h.pump();
      h.send(B, { r: ['b1'], b: 4 });
      h.pump();
      expect(h.checkpoints()).to.deep.equal([{ checkpointId: 4, alignmentMs: 0 }]);
    });

    it('lets a newer barrier supersede an older unfinished alignment, and ignores the older one\'s late barriers', () => {
      const h = harness(THREE, 'exactly-once');
      h.send(A, { b: 1 });
      h.send(A, { r: ['a1'] });
      h.pump();
      expect(h.aligner.aligning).to.equal(1);
      h.clock.advance(10);
      // B's upstream gave checkpoint 1 up: B's next barrier is 2.
      h.send(B, { r: ['b1'], b: 2 });
      h.send(B, { r: ['b2'] });
      h.pump();
      expect(h.aligner.aligning).to.equal(2);
      expect(h.records(), 'A is free again; B waits behind barrier 2').to.deep.equal(['b1', 'a1']);

      // C still delivers barrier 1: it is too old to count, and holds nothing back.
      h.clock.advance(10);
      h.send(C, { r: ['c1'], b: 1 });
      h.send(C, { r: ['c2'] });
      h.pump();
      expect(h.records()).to.deep.equal(['b1', 'a1', 'c1', 'c2']);
      expect(h.aligner.aligning).to.equal(2);

      h.clock.advance(5);
      h.send(A, { b: 2 });
      h.send(C, { b: 2 });
      h.pump();
      expect(h.checkpoints(), 'measured from B\'s barrier 2').to.deep.equal([{ checkpointId: 2, alignmentMs: 15 }]);
      expect(h.records().at(-1)).to.equal('b2');
    });

    it('unblocks every channel when the checkpoint it aligns is aborted, and ignores the abort of another', () => {
      const h = harness(THREE, 'exactly-once');
      h.send(A, { b: 3 });
      h.send(A, { r: ['a'] });
      h.send(B, { b: 3 });
      h.send(B, { r: ['b'] });
      h.pump();
      expect(h.gate.queued).to.equal(2);
      h.aligner.abort(2);
      h.aligner.abort(4);
      expect(h.aligner.aligning).to.equal(3);
      expect(h.gate.ready).to.equal(false);
      h.aligner.abort(3);
      expect(h.aligner.aligning).to.equal(undefined);
      expect(h.gate.ready).to.equal(true);
      h.pump();
      expect(h.records()).to.have.members(['a', 'b']);
      expect(h.checkpoints()).to.be.empty;
    });

    it('ignores a late barrier of a checkpoint it aborted: it holds no channel back', () => {
      // An aborted checkpoint was usually slow (backpressure): its barriers arrive after the abort.
      // Aligning them again could never complete (A and B delivered theirs before the abort), so
      // it would only stop C until the next checkpoint. Flink ignores barriers ≤ the current id.
      const h = harness(THREE, 'exactly-once');
      h.send(A, { b: 1 });
      h.send(B, { b: 1 });
      h.pump();
      h.aligner.abort(1);
      h.send(C, { b: 1 });
      h.send(C, { r: ['c-after'] });
      h.send(A, { r: ['a-after'] });
      h.pump();
      expect(h.records()).to.have.members(['c-after', 'a-after']);
      expect(h.aligner.aligning, 'no alignment for the aborted checkpoint').to.equal(undefined);
      expect(h.gate.queued).to.equal(0);
    });
  });

  describe('at-least-once', () => {
    it('never holds a channel back, and completes once every live channel has delivered the barrier', () => {
      const h = harness(THREE, 'at-least-once');
      h.send(A, { r: ['a1'], b: 1 });
      h.send(A, { r: ['a2'] });
      h.pump();
      expect(h.records(), 'records after the barrier flow on').to.deep.equal(['a1', 'a2']);
      expect(h.aligner.aligning).to.equal(1);
      h.clock.advance(40);
      h.send(B, { b: 1 });
      h.send(B, { r: ['b2'] });
      h.pump();
      expect(h.records()).to.deep.equal(['a1', 'a2', 'b2']);
      expect(h.checkpoints()).to.be.empty;
      h.clock.advance(2);
      h.send(C, { r: ['c1'], b: 1 });
      h.pump();
      expect(h.checkpoints()).to.deep.equal([{ checkpointId: 1, alignmentMs: 42 }]);
      expect(h.aligner.aligning).to.equal(undefined);
    });

    it('counts ended channels as arrived, too', () => {
      const h = harness(THREE, 'at-least-once');
      h.send(A, { b: 1 });
      h.send(C, { e: true });
      h.pump();
      expect(h.checkpoints()).to.be.empty;
      h.clock.advance(3);
      h.send(B, { r: ['last'], e: true });
      h.pump();
      expect(h.checkpoints()).to.deep.equal([{ checkpointId: 1, alignmentMs: 3 }]);
    });
  });

  for (const mode of ['exactly-once', 'at-least-once'] as const) {
    it(`${mode}: with a single input channel, completes at the barrier with alignment 0`, () => {
      const h = harness([{ edgeIndex: 2, upstreamParallelism: 1 }], mode);
      h.clock.advance(500);
      h.send('2:0', { r: [1, 2], b: 1 });
      h.send('2:0', { r: [3], b: 2 });
      h.pump();
      expect(h.steps).to.deep.equal([
        { record: 1 }, { record: 2 }, { checkpoint: { checkpointId: 1, alignmentMs: 0 } },
        { record: 3 }, { checkpoint: { checkpointId: 2, alignmentMs: 0 } },
      ]);
    });
  }

  it('exactly-once snapshots a consistent cut and at-least-once at least covers it (seeded random arrivals, ends and frame sizes)', function () {
    this.timeout(30_000); // many seeded cases; nothing here is timed
    let completions = 0;
    for (let seed = 1; seed <= 250; seed++) {
      for (const mode of ['exactly-once', 'at-least-once'] as const) {
        const random = prng(seed);
        const edges = 1 + Math.floor(random() * 3);
        const inputs = Array.from({ length: edges }, (_, e) => ({ edgeIndex: e, upstreamParallelism: 1 + Math.floor(random() * 3) }));
        const checkpoints = 1 + Math.floor(random() * 5);
        const h = harness(inputs, mode);

        // Each upstream channel: records and barriers 1..K in order; maybe it ends early, and sends nothing after.
        interface Upstream { channel: string; frames: { r: string[]; b?: number; e?: true }[]; before: Map<number, string[]> }
        const upstreams: Upstream[] = [];
        for (const { edgeIndex, upstreamParallelism } of inputs) {
          for (let s = 0; s < upstreamParallelism; s++) {
            const channel = `${edgeIndex}:${s}`;
            const endsAfter = random() < 0.3 ? Math.floor(random() * (checkpoints + 1)) : checkpoints;
            const frames: Upstream['frames'] = [];
            const sent: string[] = [];
            const before = new Map<number, string[]>();
            let n = 0;
            for (let id = 1; id <= checkpoints + 1; id++) {
              const count = Math.floor(random() * 6);
              let frame: string[] = [];
              for (let i = 0; i < count; i++) {
                const record = `${channel}#${n++}`;
                frame.push(record);
                sent.push(record);
                if (random() < 0.3) {
                  frames.push({ r: frame });
                  frame = [];
                }
              }
              if (id > endsAfter) {
                frames.push({ r: frame, e: true });
                break;
              }
              if (id === checkpoints + 1) frames.push({ r: frame, e: true });
              else {
                frames.push({ r: frame, b: id });
                before.set(id, [...sent]);
              }
            }
            for (let id = 1; id <= checkpoints; id++) if (!before.has(id)) before.set(id, [...sent]);
            upstreams.push({ channel, frames, before });
          }
        }
        // A checkpoint completes when some channel delivers its barrier (the others deliver it or end).
        const expected = Array.from({ length: checkpoints }, (_, i) => i + 1).filter((id) => upstreams.some((u) => u.frames.some((f) => f.b === id)));

        const pending = upstreams.map((u) => [...u.frames]);
        const processed = new Set<string>();
        const completed: number[] = [];
        // The Job Manager has one checkpoint in flight: the sources inject barrier n + 1 only once n is complete.
        const injected = (frame: { b?: number }): boolean => frame.b === undefined || frame.b <= (completed.at(-1) ?? 0) + 1;
        for (let guard = 0; ; guard++) {
          if (guard > 100_000) expect.fail(`seed ${seed} ${mode}: never finished`);
          const senders = pending.map((p, i) => i).filter((i) => pending[i]!.length > 0 && injected(pending[i]![0]!));
          if (senders.length === 0 && !h.gate.ready) break;
          if (senders.length > 0 && (!h.gate.ready || random() < 0.5)) {
            const i = senders[Math.floor(random() * senders.length)]!;
            h.send(upstreams[i]!.channel, pending[i]!.shift()!);
          } else {
            // One frame at a time, as the operator takes them.
            const next = h.gate.take()!;
            for (const record of next.frame.r) processed.add(record as string);
            const aligned = next.frame.b === undefined ? undefined : h.aligner.onBarrier(next.channel, next.frame.b);
            const ready = aligned ?? (next.frame.e ? h.aligner.onChannelEnded() : undefined);
            if (!ready) continue;
            completed.push(ready.checkpointId);
            completions++;
            const cut = upstreams.flatMap((u) => u.before.get(ready.checkpointId)!);
            const missing = cut.filter((r) => !processed.has(r));
            expect(missing, `seed ${seed} ${mode} checkpoint ${ready.checkpointId}: records before the barrier not yet processed`).to.deep.equal([]);
            if (mode === 'exactly-once') {
              const extra = [...processed].filter((r) => !cut.includes(r));
              expect(extra, `seed ${seed} ${mode} checkpoint ${ready.checkpointId}: records after the barrier already processed`).to.deep.equal([]);
            }
          }
          if (mode === 'at-least-once') {
            const queued = h.gate.queued > 0;
            expect(h.gate.ready, `seed ${seed}: at-least-once held a channel back`).to.equal(queued);
          }
        }
        expect(completed, `seed ${seed} ${mode}`).to.deep.equal(expected);
        expect(h.gate.finished, `seed ${seed} ${mode}`).to.equal(true);
        expect(processed.size).to.equal(upstreams.reduce((n, u) => n + u.frames.reduce((m, f) => m + f.r.length, 0), 0));
      }
    }
    expect(completions).to.be.greaterThan(700);
  });
});
