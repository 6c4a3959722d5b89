import { expect } from 'chai';
import { decodeFrame } from '../../../lib/codec/index.ts';
import { ManualClock } from '../../../lib/clock/index.ts';
import { canonicalKey, subtaskForKey } from '../../../lib/partition/index.ts';
import { OutputGate, type KeyOf } from '../../../actors/operator/output-gate.ts';
import type { Frame, NetworkSettings } from '../../../actors/operator/protocol.ts';
import type { Partitioning } from '../../../lib/descriptor/types.ts';
import { prng } from '../../helpers/random.ts';
import { range } from '../../helpers/nats.ts';

/** The limit the gate keeps under: NATS's 1 MB max_payload less room for headers. */
const MAX_FRAME_BYTES = 900 * 1024;

interface Published { subject: string; bytes: number; frame: Frame }

interface EdgeSetup { edgeIndex?: number; partition: Partitioning; channels: number; keyOf?: KeyOf }

interface Setup {
  edges: EdgeSetup[];
  subtask?: number;
  attempt?: number;
  maxParallelism?: number;
  network?: Partial<NetworkSettings>;
  /** Receivers in this process, by subject. */
  local?: Map<string, (frame: Frame) => void>;
}

/** The job attempt the gates of these specs run in, unless a spec says otherwise. */
const ATTEMPT = 3;

const subject = (edgeIndex: number, channel: number): string => `p.data.job.e${edgeIndex}.${channel}`;

function gateFor(setup: Setup) {
  const clock = new ManualClock();
  const published: Published[] = [];
  const bySubject = new Map<string, Published[]>();
  let writable = 0;
  const edges = setup.edges.map((e, i) => ({ ...e, edgeIndex: e.edgeIndex ?? i }));
  const gate = new OutputGate(
    edges.map((e) => ({
      spec: { edgeIndex: e.edgeIndex, peerVertexId: `v${e.edgeIndex}`, peerParallelism: e.channels, partition: e.partition },
      subjects: Array.from({ length: e.channels }, (_, c) => subject(e.edgeIndex, c)),
      keyOf: e.keyOf,
    })),
    {
      subtask: setup.subtask ?? 0,
      attempt: setup.attempt ?? ATTEMPT,
      maxParallelism: setup.maxParallelism ?? 128,
      network: { frameRecords: 100, frameBytes: 32768, bufferTimeoutMs: 5, credits: 8, ...setup.network },
      clock,
      onError: (error) => { throw error; },
      localReceiver: (to) => setup.local?.get(to),
      publish: (to, bytes) => {
        const p = { subject: to, bytes: bytes.length, frame: decodeFrame<Frame>(bytes) };
        published.push(p);
        if (!bySubject.has(to)) bySubject.set(to, []);
        bySubject.get(to)!.push(p);
      },
      onWritable: () => { writable++; },
    },
  );
  const on = (edgeIndex: number, channel: number): Published[] => bySubject.get(subject(edgeIndex, channel)) ?? [];
  return {
    gate,
    clock,
    published,
    writable: () => writable,
    /** Every frame published on one channel, in order. */
    on,
    /** Every record published on one channel, in order. */
    records: (edgeIndex: number, channel: number): unknown[] => on(edgeIndex, channel).flatMap((p) => p.frame.r),
    /** Plenty of credit on every channel, so only partitioning and batching matter. */
    grantAll: (credits = 1_000_000) => { for (const e of edges) for (let c = 0; c < e.channels; c++) gate.grant(e.edgeIndex, c, credits); },
  };
}

describe('OutputGate', () => {
  describe('partitioning', () => {
    it('forward sends everything to the channel of the same subtask', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 3 }], subtask: 1, network: { frameRecords: 4 } });
      h.grantAll();
      for (const i of range(10)) h.gate.emit(i);
      h.gate.flush();
      expect(h.records(0, 1)).to.deep.equal(range(10));
      expect(h.records(0, 0)).to.be.empty;
      expect(h.records(0, 2)).to.be.empty;
    });

    it('forward to a single channel uses it whatever the subtask', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], subtask: 2 });
      h.grantAll();
      for (const i of range(5)) h.gate.emit(i);
      h.gate.flush();
      expect(h.records(0, 0)).to.deep.equal(range(5));
    });

    it('rebalance deals records round-robin, starting at its own subtask', () => {
      const h = gateFor({ edges: [{ partition: 'rebalance', channels: 3 }], subtask: 1 });
      h.grantAll();
      for (const i of range(12)) h.gate.emit(i);
      h.gate.flush();
      for (const c of range(3)) {
        expect(h.records(0, c), `channel ${c}`).to.deep.equal(range(12).filter((i) => (1 + i) % 3 === c));
      }
    });

    it('hash sends every record to subtaskForKey(canonicalKey(key)), so one key always meets one channel', () => {
      const maxParallelism = 128;
      const channels = 5;
      const h = gateFor({
        edges: [{ partition: 'hash', channels, keyOf: (r) => (r as { key: unknown }).key }],
        maxParallelism,
        network: { frameRecords: 7 },
      });
      h.grantAll();
      const random = prng(7);
      const keys: unknown[] = [
        ...range(40).map((i) => `word-${i}`),
        ...range(20).map((i) => i * 17),
        [1, 'a'], ['a', 1], { a: 1, b: 'x' }, true, null, 'é', '日本', '🙂',
      ];
      const sent = range(3000).map((seq) => ({ key: keys[Math.floor(random() * keys.length)], seq }));
      for (const record of sent) h.gate.emit(record);
      h.gate.flush();

      const owner = new Map<string, number>();
      let total = 0;
      for (const c of range(channels)) {
        const got = h.records(0, c) as { key: unknown; seq: number }[];
        total += got.length;
        for (const { key } of got) {
          const canonical = canonicalKey(key);
          expect(c, `key ${canonical}`).to.equal(subtaskForKey(canonical, maxParallelism, channels));
          expect(owner.get(canonical) ?? c, `key ${canonical} on two channels`).to.equal(c);
          owner.set(canonical, c);
        }
        // Records of one channel keep the order they were emitted in.
        const seqs = got.map((r) => r.seq);
        expect(seqs).to.deep.equal([...seqs].sort((a, b) => a - b));
      }
      expect(total).to.equal(sent.length);
      expect(new Set(owner.values()).size, 'keys spread over several channels').to.be.greaterThan(1);
    });

    it('hash treats objects with the same fields in another order as the same key', () => {
      const h = gateFor({ edges: [{ partition: 'hash', channels: 7, keyOf: (r) => (r as { key: unknown }).key }] });
      h.grantAll();
      for (const i of range(50)) {
        h.gate.emit({ key: { a: i, b: 'x', c: [i] }, n: 1 });
        h.gate.emit({ key: { c: [i], b: 'x', a: i }, n: 2 });
      }
      h.gate.flush();
      for (const c of range(7)) {
        const got = h.records(0, c) as { key: { a: number }; n: number }[];
        const ones = got.filter((r) => r.n === 1).map((r) => r.key.a);
        const twos = got.filter((r) => r.n === 2).map((r) => r.key.a);
        expect(ones).to.deep.equal(twos);
      }
    });

    it('broadcast sends every record to every channel', () => {
      const h = gateFor({ edges: [{ partition: 'broadcast', channels: 4 }], network: { frameRecords: 3 } });
      h.grantAll();
      for (const i of range(10)) h.gate.emit({ i });
      h.gate.flush();
      for (const c of range(4)) expect(h.records(0, c)).to.deep.equal(range(10).map((i) => ({ i })));
    });

    it('sends every record on every output edge, each partitioned its own way', () => {
      const h = gateFor({
        edges: [{ edgeIndex: 3, partition: 'forward', channels: 2 }, { edgeIndex: 5, partition: 'broadcast', channels: 3 }],
        subtask: 0,
      });
      h.grantAll();
      for (const i of range(6)) h.gate.emit(i);
      h.gate.flush();
      expect(h.records(3, 0)).to.deep.equal(range(6));
      expect(h.records(3, 1)).to.be.empty;
      for (const c of range(3)) expect(h.records(5, c)).to.deep.equal(range(6));
      expect(h.gate.recordsOut).to.equal(6);
    });

    it('stamps every frame with the sending subtask and the job attempt', () => {
      const h = gateFor({ edges: [{ partition: 'rebalance', channels: 2 }], subtask: 4, attempt: 7, network: { frameRecords: 2 } });
      h.grantAll();
      for (const i of range(5)) h.gate.emit(i);
      h.gate.barrier(1);
      h.gate.emit(5);
      h.gate.flush();
      h.gate.end();
      expect(h.published.length).to.be.greaterThan(4);
      for (const p of h.published) expect({ s: p.frame.s, a: p.frame.a }).to.deep.equal({ s: 4, a: 7 });
    });

    it('stamps attempt 0 too (the first run of a job)', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], attempt: 0 });
      h.grantAll();
      h.gate.emit('x');
      h.gate.end();
      expect(h.published.map((p) => p.frame)).to.deep.equal([{ s: 0, a: 0, r: ['x'], e: true }]);
    });
  });

  describe('credit', () => {
    it('publishes nothing without credit, and is blocked once a frame is ready', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 3 } });
      h.gate.emit('a');
      h.gate.emit('b');
      expect(h.gate.blocked, 'a partial buffer does not block').to.equal(false);
      h.gate.emit('c');
      expect(h.published).to.be.empty;
      expect(h.gate.blocked).to.equal(true);
      expect(h.gate.drained).to.equal(false);
    });

    it('publishes waiting frames in order as credit arrives, and calls onWritable once unblocked', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 2 } });
      for (const i of range(6)) h.gate.emit(i);
      expect(h.published).to.be.empty;

      h.gate.grant(0, 0, 1);
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([[0, 1]]);
      expect(h.gate.blocked).to.equal(true);
      expect(h.writable()).to.equal(0);

      h.gate.grant(0, 0, 1);
      expect(h.gate.blocked).to.equal(true);
      expect(h.writable()).to.equal(0);

      h.gate.grant(0, 0, 5);
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([[0, 1], [2, 3], [4, 5]]);
      expect(h.gate.blocked).to.equal(false);
      expect(h.gate.drained).to.equal(true);
      expect(h.writable()).to.equal(1);

      // Left-over credit is spent by the next frame straight away, with no second onWritable.
      h.gate.emit(6);
      h.gate.emit(7);
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([[0, 1], [2, 3], [4, 5], [6, 7]]);
      expect(h.writable()).to.equal(1);
    });

    it('spends one credit per frame and queues the rest', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 1 } });
      h.gate.grant(0, 0, 2);
      for (const i of range(5)) h.gate.emit(i);
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([[0], [1]]);
      expect(h.gate.blocked).to.equal(true);
      h.gate.grant(0, 0, 3);
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([[0], [1], [2], [3], [4]]);
      expect(h.gate.blocked).to.equal(false);
    });

    it('stays blocked while any one channel waits for credit', () => {
      const h = gateFor({ edges: [{ partition: 'broadcast', channels: 2 }], network: { frameRecords: 1 } });
      h.gate.grant(0, 0, 10);
      h.gate.emit('x');
      expect(h.on(0, 0)).to.have.length(1);
      expect(h.on(0, 1)).to.be.empty;
      expect(h.gate.blocked).to.equal(true);
      h.gate.grant(0, 0, 10);
      expect(h.gate.blocked).to.equal(true);
      expect(h.writable()).to.equal(0);
      h.gate.grant(0, 1, 1);
      expect(h.gate.blocked).to.equal(false);
      expect(h.writable()).to.equal(1);
    });

    it('ignores credit for an edge or channel it does not have', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 1 } });
      h.gate.emit(1);
      h.gate.grant(9, 0, 5);
      h.gate.grant(0, 4, 5);
      expect(h.published).to.be.empty;
      expect(h.gate.blocked).to.equal(true);
    });

    it('never publishes more frames on a channel than it was granted, and loses or reorders nothing, barriers included (seeded random interleavings)', function () {
    this.timeout(30_000); // many seeded cases; nothing here is timed
      const violations: string[] = [];
      let barriers = 0;
      for (let seed = 1; seed <= 200; seed++) {
        const random = prng(seed);
        const channels = 1 + Math.floor(random() * 4);
        const frameRecords = 1 + Math.floor(random() * 5);
        const partition = (['rebalance', 'broadcast', 'hash'] as const)[Math.floor(random() * 3)]!;
        const h = gateFor({
          edges: [{ partition, channels, keyOf: (r) => (r as number) % 11 }],
          subtask: Math.floor(random() * channels),
          network: { frameRecords },
        });
        const granted = new Array<number>(channels).fill(0);
        // The checkpoint each record was emitted in: the number of barriers before it.
        const epochOf: number[] = [];
        let epoch = 0;
        let wasBlocked = false;
        let unblocked = 0;
        const steps = 50 + Math.floor(random() * 200);
        for (let step = 0; step < steps; step++) {
          const roll = random();
          if (roll < 0.6) {
            epochOf.push(epoch);
            h.gate.emit(epochOf.length - 1);
          } else if (roll < 0.85) {
            const c = Math.floor(random() * channels);
            const n = 1 + Math.floor(random() * 3);
            granted[c]! += n;
            h.gate.grant(0, c, n);
          } else if (roll < 0.92) {
            h.gate.barrier(++epoch);
          } else h.clock.advance(5);
          for (const c of range(channels)) {
            if (h.on(0, c).length > granted[c]!) violations.push(`seed ${seed} step ${step}: channel ${c} sent more than its credit`);
          }
          // Blocked means some channel has spent all of its credit.
          if (h.gate.blocked && !range(channels).some((c) => h.on(0, c).length === granted[c]!)) {
            violations.push(`seed ${seed} step ${step}: blocked with credit left on every channel`);
          }
          if (wasBlocked && !h.gate.blocked) unblocked++;
          wasBlocked = h.gate.blocked;
          if (h.writable() !== unblocked) violations.push(`seed ${seed} step ${step}: onWritable ${h.writable()} times for ${unblocked} unblockings`);
        }
        h.gate.end();
        for (const c of range(channels)) h.gate.grant(0, c, 1_000_000);
        expect(h.gate.drained, `seed ${seed}`).to.equal(true);
        barriers += epoch;
        const emitted = epochOf.length;
        for (const c of range(channels)) {
          // Each barrier once per channel, in order, after exactly the records emitted before it.
          let seen = 0;
          for (const { frame } of h.on(0, c)) {
            if (frame.a !== ATTEMPT) violations.push(`seed ${seed} channel ${c}: a frame of attempt ${frame.a}`);
            for (const r of frame.r as number[]) {
              if (epochOf[r] !== seen) violations.push(`seed ${seed} channel ${c}: record ${r} of checkpoint epoch ${epochOf[r]} sent after barrier ${seen}`);
            }
            if (frame.b !== undefined) {
              if (frame.b !== seen + 1) violations.push(`seed ${seed} channel ${c}: barrier ${frame.b} after barrier ${seen}`);
              seen = frame.b;
            }
          }
          if (seen !== epoch) violations.push(`seed ${seed} channel ${c}: ${seen} of ${epoch} barriers`);
        }
        const all = range(channels).flatMap((c) => h.records(0, c) as number[]);
        if (partition === 'broadcast') {
          for (const c of range(channels)) expect(h.records(0, c), `seed ${seed}`).to.deep.equal(range(emitted));
        } else {
          expect([...all].sort((a, b) => a - b), `seed ${seed}`).to.deep.equal(range(emitted));
          for (const c of range(channels)) {
            const got = h.records(0, c) as number[];
            expect(got, `seed ${seed} order`).to.deep.equal([...got].sort((a, b) => a - b));
          }
        }
        if (violations.length > 20) break;
      }
      expect(violations).to.deep.equal([]);
      expect(barriers).to.be.greaterThan(500);
    });
  });

  describe('batching', () => {
    it('puts at most frameRecords records in a frame and sends a full frame at once', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 4 } });
      h.grantAll();
      for (const i of range(10)) h.gate.emit(i);
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([[0, 1, 2, 3], [4, 5, 6, 7]]);
      expect(h.gate.drained, 'two records still buffered').to.equal(false);
      h.gate.flush();
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
      expect(h.gate.drained).to.equal(true);
    });

    it('flush() sends partial frames on every channel and nothing for an empty one', () => {
      const h = gateFor({ edges: [{ partition: 'rebalance', channels: 3 }], network: { frameRecords: 100 } });
      h.grantAll();
      for (const i of range(4)) h.gate.emit(i);
      expect(h.published).to.be.empty;
      h.gate.flush();
      expect(h.published).to.have.length(3);
      expect(h.records(0, 0)).to.deep.equal([0, 3]);
      expect(h.records(0, 1)).to.deep.equal([1]);
      expect(h.records(0, 2)).to.deep.equal([2]);
      expect(h.clock.pending, 'flush cancels the buffer timer').to.equal(0);
      h.gate.flush();
      expect(h.published).to.have.length(3);
    });

    it('sends a partial frame when the buffer timeout passes', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 100, bufferTimeoutMs: 5 } });
      h.grantAll();
      h.gate.emit('a');
      h.clock.advance(3);
      h.gate.emit('b');
      h.clock.advance(1);
      expect(h.published, 'not before the timeout').to.be.empty;
      h.clock.advance(1);
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([['a', 'b']]);
      expect(h.clock.pending).to.equal(0);

      // The next record arms the timer again.
      h.gate.emit('c');
      expect(h.clock.pending).to.equal(1);
      h.clock.advance(5);
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([['a', 'b'], ['c']]);
    });

    it('keeps the flushed frame waiting when the timeout fires without credit', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 100, bufferTimeoutMs: 5 } });
      h.gate.emit('a');
      h.clock.advance(5);
      expect(h.published).to.be.empty;
      expect(h.gate.blocked).to.equal(true);
      h.gate.grant(0, 0, 1);
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([['a']]);
      expect(h.writable()).to.equal(1);
    });

    it('close() cancels the buffer timer', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }] });
      h.grantAll();
      h.gate.emit('a');
      expect(h.clock.pending).to.equal(1);
      h.gate.close();
      expect(h.clock.pending).to.equal(0);
      h.clock.advance(1000);
      expect(h.published).to.be.empty;
    });
  });

  describe('end of input', () => {
    it('sends a final frame with e: true on every channel, and is drained only when all went out', () => {
      const h = gateFor({ edges: [{ partition: 'rebalance', channels: 3 }, { partition: 'broadcast', channels: 2 }], network: { frameRecords: 100 } });
      h.gate.emit('x');
      h.gate.end();
      expect(h.published).to.be.empty;
      expect(h.gate.drained).to.equal(false);
      expect(h.gate.blocked).to.equal(true);
      expect(h.clock.pending, 'end cancels the buffer timer').to.equal(0);

      const channels: [number, number][] = [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1]];
      for (const [i, [edge, c]] of channels.entries()) {
        expect(h.gate.drained).to.equal(false);
        h.gate.grant(edge, c, 1);
        expect(h.on(edge, c), `edge ${edge} channel ${c}`).to.have.length(1);
        expect(h.on(edge, c)[0]!.frame.e).to.equal(true);
        expect(h.gate.drained).to.equal(i === channels.length - 1);
      }
      expect(h.writable()).to.equal(1);
      expect(h.records(0, 0)).to.deep.equal(['x']);
      expect(h.records(0, 1)).to.deep.equal([]);
      expect(h.records(1, 0)).to.deep.equal(['x']);
      expect(h.records(1, 1)).to.deep.equal(['x']);
    });

    it('marks only the last frame of a channel as the end', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 2 } });
      h.grantAll();
      for (const i of range(5)) h.gate.emit(i);
      h.gate.end();
      expect(h.published.map((p) => p.frame.r)).to.deep.equal([[0, 1], [2, 3], [4]]);
      expect(h.published.map((p) => p.frame.e ?? false)).to.deep.equal([false, false, true]);
      expect(h.gate.drained).to.equal(true);
    });
  });

  describe('checkpoint barriers', () => {
    it('flushes the buffered records and puts the barrier on the last frame of every channel, after them', () => {
      const h = gateFor({ edges: [{ partition: 'rebalance', channels: 3 }, { edgeIndex: 4, partition: 'broadcast', channels: 2 }] });
      h.grantAll();
      for (const i of range(4)) h.gate.emit(i);
      expect(h.published, 'buffered').to.be.empty;
      h.gate.barrier(5);
      // Every channel gets one frame: its records, then the barrier; a channel with none gets the barrier alone.
      expect(h.on(0, 0).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, r: [0, 3], b: 5 }]);
      expect(h.on(0, 1).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, r: [1], b: 5 }]);
      expect(h.on(0, 2).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, r: [2], b: 5 }]);
      for (const c of range(2)) expect(h.on(4, c).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, r: [0, 1, 2, 3], b: 5 }]);
      expect(h.gate.drained).to.equal(true);
      expect(h.clock.pending, 'the barrier cancels the buffer timer').to.equal(0);

      h.gate.barrier(6);
      for (const c of range(3)) expect(h.on(0, c).at(-1)!.frame).to.deep.equal({ s: 0, a: ATTEMPT, r: [], b: 6 });
      for (const c of range(2)) expect(h.on(4, c).at(-1)!.frame).to.deep.equal({ s: 0, a: ATTEMPT, r: [], b: 6 });
    });

    it('keeps records emitted before the barrier before it and records emitted after it after it', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 2 } });
      h.grantAll();
      for (const i of range(5)) h.gate.emit(i);
      h.gate.barrier(1);
      h.gate.emit(5);
      h.gate.emit(6);
      h.gate.emit(7);
      h.gate.barrier(2);
      h.gate.end();
      expect(h.published.map((p) => p.frame)).to.deep.equal([
        { s: 0, a: ATTEMPT, r: [0, 1] },
        { s: 0, a: ATTEMPT, r: [2, 3] },
        { s: 0, a: ATTEMPT, r: [4], b: 1 },
        { s: 0, a: ATTEMPT, r: [5, 6] },
        { s: 0, a: ATTEMPT, r: [7], b: 2 },
        { s: 0, a: ATTEMPT, r: [], e: true },
      ]);
    });

    it('is held back like any frame while there is no credit, and goes out in order as credit arrives', () => {
      const h = gateFor({ edges: [{ partition: 'broadcast', channels: 2 }], network: { frameRecords: 2 } });
      h.gate.grant(0, 0, 1);
      for (const i of range(3)) h.gate.emit(i);
      h.gate.barrier(9);
      h.gate.emit(3);
      h.gate.flush();
      expect(h.on(0, 0).map((p) => p.frame.r), 'one credit, one frame').to.deep.equal([[0, 1]]);
      expect(h.on(0, 1)).to.be.empty;
      expect(h.gate.blocked).to.equal(true);
      expect(h.gate.drained).to.equal(false);

      h.gate.grant(0, 0, 1);
      expect(h.on(0, 0).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, r: [0, 1] }, { s: 0, a: ATTEMPT, r: [2], b: 9 }]);
      expect(h.gate.blocked, 'the record after the barrier still waits').to.equal(true);
      h.gate.grant(0, 0, 1);
      h.gate.grant(0, 1, 2);
      expect(h.gate.blocked, 'channel 1 has one frame left').to.equal(true);
      expect(h.writable()).to.equal(0);
      h.gate.grant(0, 1, 1);
      expect(h.gate.blocked).to.equal(false);
      expect(h.writable()).to.equal(1);
      for (const c of range(2)) {
        expect(h.on(0, c).map((p) => p.frame), `channel ${c}`).to.deep.equal([
          { s: 0, a: ATTEMPT, r: [0, 1] }, { s: 0, a: ATTEMPT, r: [2], b: 9 }, { s: 0, a: ATTEMPT, r: [3] },
        ]);
      }
    });

    it('blocks the gate when the barrier itself finds no credit, even with nothing buffered', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }] });
      h.gate.barrier(1);
      expect(h.published).to.be.empty;
      expect(h.gate.blocked).to.equal(true);
      expect(h.gate.drained).to.equal(false);
      h.gate.grant(0, 0, 1);
      expect(h.published.map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, r: [], b: 1 }]);
      expect(h.gate.drained).to.equal(true);
      expect(h.writable()).to.equal(1);
    });

    it('hands the barrier to a receiver in the same process as an object, against credit', () => {
      const received: Frame[] = [];
      const local = new Map([[subject(0, 1), (frame: Frame) => { received.push(frame); }]]);
      const h = gateFor({ edges: [{ partition: 'rebalance', channels: 2 }], local });
      h.grantAll();
      for (const i of range(3)) h.gate.emit(i);
      h.gate.barrier(4);
      expect(received).to.deep.equal([{ s: 0, a: ATTEMPT, r: [1], b: 4 }]);
      expect(h.on(0, 0).map((p) => p.frame), 'the other channel goes through NATS').to.deep.equal([{ s: 0, a: ATTEMPT, r: [0, 2], b: 4 }]);
      expect(h.on(0, 1)).to.be.empty;
    });
  });

  describe('receivers in the same process', () => {
    it('hands frames over as objects, not through NATS, still only against credit', () => {
      const received: Frame[] = [];
      const local = new Map([[subject(0, 0), (frame: Frame) => { received.push(frame); }]]);
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 2 }, local });
      const record = { word: 'same object' };
      h.gate.emit(record);
      h.gate.emit(2);
      expect(received).to.be.empty;
      expect(h.gate.blocked).to.equal(true);
      h.gate.grant(0, 0, 8);
      h.gate.emit(3);
      h.gate.end();
      expect(h.published).to.be.empty;
      expect(received.map((f) => f.r)).to.deep.equal([[record, 2], [3]]);
      expect(received[0]!.r[0]).to.equal(record);
      expect(received.at(-1)!.e).to.equal(true);
      for (const f of received) expect({ s: f.s, a: f.a }).to.deep.equal({ s: 0, a: ATTEMPT });
      expect(h.gate.drained).to.equal(true);
    });
  });

  describe('frames that would not fit in one NATS message', () => {
    const big = (i: number): { i: number; payload: string } => ({ i, payload: String.fromCharCode(97 + (i % 26)).repeat(100 * 1024 + i) });

    it('splits records over several frames, none over the limit, keeping order', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 64 } });
      h.grantAll();
      for (const i of range(64)) h.gate.emit(big(i));
      expect(h.published.length).to.be.greaterThan(1);
      for (const p of h.published) expect(p.bytes).to.be.at.most(MAX_FRAME_BYTES);
      expect(h.records(0, 0)).to.deep.equal(range(64).map(big));
    });

    it('splits a frame just over the limit, and leaves one just under it whole', () => {
      const payload = (kb: number, i: number): string => String(i).repeat(kb * 1024);
      const over = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 4 } });
      over.grantAll();
      for (const i of range(4)) over.gate.emit(payload(226, i)); // 904 KB of strings
      expect(over.published.length).to.be.greaterThan(1);
      for (const p of over.published) expect(p.bytes).to.be.at.most(MAX_FRAME_BYTES);
      expect(over.records(0, 0)).to.deep.equal(range(4).map((i) => payload(226, i)));

      const under = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 4 } });
      under.grantAll();
      for (const i of range(4)) under.gate.emit(payload(224, i)); // 896 KB of strings
      expect(under.published).to.have.length(1);
      expect(under.published[0]!.frame.r).to.have.length(4);
    });

    it('refuses a single record larger than a frame may be, saying so, rather than have NATS reject it', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 1 } });
      h.grantAll();
      expect(() => h.gate.emit({ payload: 'x'.repeat(MAX_FRAME_BYTES + 1) })).to.throw(/a record of \d+ bytes is larger than a data frame may be/);
      expect(h.published).to.be.empty;
    });

    it('splits a large end-of-input frame and flags only its last piece', () => {
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 1000 } });
      for (const i of range(30)) h.gate.emit(big(i));
      h.gate.end();
      expect(h.published).to.be.empty;
      // One credit per piece: hand them out one at a time and count.
      let grants = 0;
      while (!h.gate.drained) {
        h.gate.grant(0, 0, 1);
        grants++;
        expect(h.published).to.have.length(grants);
      }
      expect(grants).to.be.greaterThan(1);
      for (const p of h.published) expect(p.bytes).to.be.at.most(MAX_FRAME_BYTES);
      expect(h.published.map((p) => p.frame.e ?? false)).to.deep.equal([...new Array<boolean>(grants - 1).fill(false), true]);
      expect(h.records(0, 0)).to.deep.equal(range(30).map(big));
    });

    it('splits a large barrier frame and puts the barrier on its last piece only', () => {
      // Frames sized by bytes would send 'after' alone, with end of input in a frame of its own.
      const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 1000, frameBytes: 512 * 1024 } });
      h.grantAll();
      for (const i of range(30)) h.gate.emit(big(i));
      h.gate.barrier(12);
      h.gate.emit('after');
      h.gate.end();
      const frames = h.published.map((p) => p.frame);
      const pieces = frames.slice(0, -1);
      expect(pieces.length).to.be.greaterThan(1);
      for (const p of h.published) expect(p.bytes).to.be.at.most(MAX_FRAME_BYTES);
      expect(pieces.map((f) => f.b)).to.deep.equal([...new Array<undefined>(pieces.length - 1).fill(undefined), 12]);
      expect(pieces.some((f) => f.e), 'no end of input before the end').to.equal(false);
      for (const f of frames) expect({ s: f.s, a: f.a }).to.deep.equal({ s: 0, a: ATTEMPT });
      expect(frames.at(-1)).to.deep.equal({ s: 0, a: ATTEMPT, r: ['after'], e: true });
      expect(h.records(0, 0)).to.deep.equal([...range(30).map(big), 'after']);
    });
  });
});
