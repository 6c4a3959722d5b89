import { expect } from 'chai';
import { decodeFrame } from '../../../lib/codec/index.ts';
import { ManualClock } from '../../../lib/clock/index.ts';
import { canonicalKey, subtaskForKey } from '../../../lib/partition/index.ts';
import { OutputGate, type KeyOf } from '../../../actors/operator/output-gate.ts';
import type { ChannelSpec, Frame, NetworkSettings } from '../../../actors/operator/protocol.ts';
import type { Partitioning } from '../../../lib/descriptor/types.ts';
import type { ChainedInput } from '../../../actors/operator/chain.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
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
      expect(h.published.map((p) => p.frame)).to.deep.equal([{ s: 0, a: 0, n: 0, r: ['x'], e: true }]);
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
      expect(h.on(0, 0).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, n: 0, r: [0, 3], b: 5 }]);
      expect(h.on(0, 1).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, n: 0, r: [1], b: 5 }]);
      expect(h.on(0, 2).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, n: 0, r: [2], b: 5 }]);
      for (const c of range(2)) expect(h.on(4, c).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, n: 0, r: [0, 1, 2, 3], b: 5 }]);
      expect(h.gate.drained).to.equal(true);
      expect(h.clock.pending, 'the barrier cancels the buffer timer').to.equal(0);

      h.gate.barrier(6);
      for (const c of range(3)) expect(h.on(0, c).at(-1)!.frame).to.deep.equal({ s: 0, a: ATTEMPT, n: 1, r: [], b: 6 });
      for (const c of range(2)) expect(h.on(4, c).at(-1)!.frame).to.deep.equal({ s: 0, a: ATTEMPT, n: 1, r: [], b: 6 });
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
        { s: 0, a: ATTEMPT, n: 0, r: [0, 1] },
        { s: 0, a: ATTEMPT, n: 1, r: [2, 3] },
        { s: 0, a: ATTEMPT, n: 2, r: [4], b: 1 },
        { s: 0, a: ATTEMPT, n: 3, r: [5, 6] },
        { s: 0, a: ATTEMPT, n: 4, r: [7], b: 2 },
        { s: 0, a: ATTEMPT, n: 5, r: [], e: true },
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
      expect(h.on(0, 0).map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, n: 0, r: [0, 1] }, { s: 0, a: ATTEMPT, n: 1, r: [2], b: 9 }]);
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
          { s: 0, a: ATTEMPT, n: 0, r: [0, 1] }, { s: 0, a: ATTEMPT, n: 1, r: [2], b: 9 }, { s: 0, a: ATTEMPT, n: 2, r: [3] },
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
      expect(h.published.map((p) => p.frame)).to.deep.equal([{ s: 0, a: ATTEMPT, n: 0, r: [], b: 1 }]);
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
      expect(received).to.deep.equal([{ s: 0, a: ATTEMPT, n: 0, r: [1], b: 4 }]);
      expect(h.on(0, 0).map((p) => p.frame), 'the other channel goes through NATS').to.deep.equal([{ s: 0, a: ATTEMPT, n: 0, r: [0, 2], b: 4 }]);
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
      // frameBytes out of the way: these frames are cut by count, to test the split at NATS's limit.
      const over = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 4, frameBytes: 1 << 20 } });
      over.grantAll();
      for (const i of range(4)) over.gate.emit(payload(226, i)); // 904 KB of strings
      expect(over.published.length).to.be.greaterThan(1);
      for (const p of over.published) expect(p.bytes).to.be.at.most(MAX_FRAME_BYTES);
      expect(over.records(0, 0)).to.deep.equal(range(4).map((i) => payload(226, i)));

      const under = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 4, frameBytes: 1 << 20 } });
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
      expect(frames.map((f) => f.n), 'numbered in order, pieces included').to.deep.equal(range(frames.length));
      expect(frames.at(-1)).to.deep.equal({ s: 0, a: ATTEMPT, n: frames.length - 1, r: ['after'], e: true });
      expect(h.records(0, 0)).to.deep.equal([...range(30).map(big), 'after']);
    });
  });
});

describe('OutputGate: frames sized by bytes', () => {
  /** About `bytes` bytes once encoded in a frame (msgpackr records: the field names go once per frame). */
  const sized = (i: number, bytes: number): { i: number; pad: string } => ({ i, pad: 'x'.repeat(Math.max(0, bytes - 8)) });

  it('fills the frames it sends over NATS to about frameBytes, the first one sized by its first record, never above frameBytes by more than a record\'s worth', () => {
    const frameBytes = 4096;
    const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 1000, frameBytes } });
    h.grantAll();
    const random = prng(5);
    // Records of 90 to 110 bytes: about 40 make a frame.
    const sent = range(5000).map((i) => sized(i, 90 + Math.floor(random() * 21)));
    for (const record of sent) h.gate.emit(record);
    h.gate.flush();

    const [first, ...rest] = h.published;
    expect(first!.frame.r.length, 'the first frame, sized by its first record').to.be.within(25, 48);
    const full = rest.slice(0, -1);
    expect(full.length).to.be.greaterThan(50);
    for (const p of full) {
      expect(p.frame.r.length, 'records in a frame after the first').to.be.within(33, 48);
      expect(p.bytes, `frame ${p.frame.n}`).to.be.within(frameBytes * 0.85, frameBytes * 1.15);
    }
    expect(rest.at(-1)!.bytes, 'the flushed remainder').to.be.at.most(frameBytes * 1.15);
    expect(h.records(0, 0)).to.deep.equal(sent);
  });

  it('keeps the first frame over NATS near frameBytes too when records are large, so a sender that stops when blocked holds one frame, not frameRecords records', () => {
    // Records of 64 KB, each larger than frameBytes on its own: every frame should carry one.
    const frameBytes = 32768;
    const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 256, frameBytes } });
    const record = (i: number) => ({ i, pad: 'x'.repeat(64 * 1024) });
    const oneRecordBytes = 64 * 1024 + 64;
    // What an operator instance does: emit while the gate is not blocked (here, without credit yet).
    let emitted = 0;
    while (!h.gate.blocked && emitted < 1000) h.gate.emit(record(emitted++));
    expect({ emitted, waiting: h.gate.waiting }, 'records buffered and frames waiting before the gate blocked').to.deep.equal({ emitted: 1, waiting: 1 });
    h.grantAll();
    for (const p of h.published) expect(p.bytes, `frame ${p.frame.n}`).to.be.at.most(Math.max(frameBytes * 1.15, oneRecordBytes));
  });

  it('sizes each channel by its own frames', () => {
    const frameBytes = 4096;
    // Two keys that hash to two different channels: one sends small records, the other large.
    const keys = ['small', 'large', 'big', 'tiny', 'a', 'b', 'c'];
    const channelOf = (key: string): number => subtaskForKey(canonicalKey(key), 128, 2);
    const small = keys.find((k) => channelOf(k) === 0)!;
    const large = keys.find((k) => channelOf(k) === 1)!;
    const h = gateFor({
      edges: [{ partition: 'hash', channels: 2, keyOf: (r) => (r as { key: string }).key }],
      network: { frameRecords: 500, frameBytes },
    });
    h.grantAll();
    for (const i of range(3000)) {
      h.gate.emit({ key: small, ...sized(i, 40) });
      h.gate.emit({ key: large, ...sized(i, 400) });
    }
    const settled = (channel: number): number[] => h.on(0, channel).slice(1).map((p) => p.frame.r.length);
    const smallCounts = settled(0);
    const largeCounts = settled(1);
    expect(smallCounts.length).to.be.greaterThan(10);
    expect(largeCounts.length).to.be.greaterThan(10);
    // Records ten times the size, a tenth as many to a frame; both channels' frames near frameBytes.
    const mean = (ns: number[]): number => ns.reduce((a, b) => a + b) / ns.length;
    expect(mean(smallCounts) / mean(largeCounts)).to.be.within(6, 12);
    for (const c of [0, 1]) for (const p of h.on(0, c).slice(1)) expect(p.bytes, `channel ${c}`).to.be.within(frameBytes * 0.85, frameBytes * 1.15);
  });

  it('never puts more than frameRecords records in a frame, however small the records', () => {
    const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 50, frameBytes: 32768 } });
    h.grantAll();
    for (const i of range(1000)) h.gate.emit(i);
    expect(h.published.map((p) => p.frame.r.length)).to.deep.equal(new Array<number>(20).fill(50));
  });

  it('shrinks the frames once records grow: one oversized frame, then back near frameBytes', () => {
    const frameBytes = 4096;
    const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 2000, frameBytes } });
    h.grantAll();
    for (const i of range(2000)) h.gate.emit(sized(i, 20));
    for (const i of range(3000)) h.gate.emit(sized(i, 1000));
    const sizes = h.published.map((p) => p.bytes);
    const oversized = sizes.slice(1).filter((bytes) => bytes > frameBytes * 1.15);
    // The frame sized from small records, filled with large ones, and the next, sized by that mixed frame's average.
    expect(oversized.length).to.be.within(1, 2);
    for (const bytes of oversized) expect(bytes).to.be.at.most(MAX_FRAME_BYTES);
    const after = sizes.slice(sizes.indexOf(oversized.at(-1)!) + 1);
    expect(after.length).to.be.greaterThan(100);
    for (const bytes of after) expect(bytes).to.be.within(frameBytes * 0.7, frameBytes * 1.15);
  });

  it('cuts frames to a receiver in the same process by frameRecords alone (nothing is encoded)', () => {
    const received: Frame[] = [];
    const local = new Map([[subject(0, 1), (frame: Frame) => { received.push(frame); }]]);
    const h = gateFor({ edges: [{ partition: 'rebalance', channels: 2 }], network: { frameRecords: 64, frameBytes: 4096 }, local });
    h.grantAll();
    for (const i of range(2 * 64 * 20)) h.gate.emit(sized(i, 1000));
    // The same records, 1 KB each: 64 to a frame in process, 4 over NATS.
    expect(received.map((f) => f.r.length)).to.deep.equal(new Array<number>(20).fill(64));
    for (const p of h.on(0, 0)) expect(p.frame.r).to.have.length(4);
    expect(received.map((f) => f.n), 'local frames are numbered too').to.deep.equal(range(20));
  });
});

describe('OutputGate: backpressure counters', () => {
  it('counts backpressured time only while a frame waits for credit (simulated clock)', () => {
    const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 1, bufferTimeoutMs: 5 } });
    h.gate.grant(0, 0, 1);
    h.gate.emit('a');
    h.clock.advance(100);
    expect(h.gate.backpressuredMs, 'credit to spare').to.equal(0);

    h.gate.emit('b');
    expect(h.gate.waiting).to.equal(1);
    h.clock.advance(30);
    expect(h.gate.backpressuredMs, 'while b waits').to.equal(30);
    h.clock.advance(20);
    expect(h.gate.backpressuredMs).to.equal(50);
    h.gate.grant(0, 0, 1);
    h.clock.advance(1000);
    expect(h.gate.backpressuredMs, 'not after b went out').to.equal(50);

    h.gate.emit('c');
    h.clock.advance(7);
    h.gate.grant(0, 0, 1);
    expect(h.gate.backpressuredMs, 'episodes add up').to.equal(57);
  });

  it('does not count a partly filled buffer as backpressure, only the frame its timeout flushes without credit', () => {
    const h = gateFor({ edges: [{ partition: 'forward', channels: 1 }], network: { frameRecords: 10, bufferTimeoutMs: 5 } });
    h.gate.emit('a');
    h.clock.advance(4);
    expect(h.gate.backpressuredMs).to.equal(0);
    expect(h.gate.blocked).to.equal(false);
    h.clock.advance(1);
    expect(h.gate.blocked, 'flushed, no credit').to.equal(true);
    h.clock.advance(10);
    expect(h.gate.backpressuredMs).to.equal(10);
  });

  it('counts one episode once however many channels wait in it', () => {
    const h = gateFor({ edges: [{ partition: 'broadcast', channels: 3 }], network: { frameRecords: 1 } });
    h.gate.emit('x');
    h.clock.advance(10);
    h.gate.grant(0, 0, 1);
    h.clock.advance(10);
    h.gate.grant(0, 1, 1);
    h.clock.advance(10);
    expect(h.gate.backpressuredMs).to.equal(30);
    h.gate.grant(0, 2, 1);
    h.clock.advance(10);
    expect(h.gate.backpressuredMs).to.equal(30);
  });

  it('keeps the most frames that ever waited on one channel as peakWaitingFrames', () => {
    const h = gateFor({ edges: [{ partition: 'broadcast', channels: 3 }], network: { frameRecords: 1 } });
    expect(h.gate.peakWaitingFrames).to.equal(0);
    for (const i of range(4)) h.gate.emit(i);
    expect(h.gate.waiting, 'over all channels').to.equal(12);
    expect(h.gate.peakWaitingFrames, 'per channel').to.equal(4);
    h.grantAll();
    expect(h.gate.waiting).to.equal(0);
    expect(h.gate.peakWaitingFrames, 'a peak stays').to.equal(4);
    h.gate.barrier(1);
    h.gate.end();
    expect(h.gate.peakWaitingFrames, 'barrier and end went out against credit').to.equal(4);
  });

  it('keeps waiting frames within one record\'s frames when the sender emits only while not blocked (seeded random)', () => {
    // What an operator instance does: emit only while the gate is not blocked, each record
    // fanning out to up to `fanOut` records (a flatMap). Then at most the frames a single
    // input record can fill wait on a channel, however little credit comes.
    const violations: string[] = [];
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed);
      const channels = 1 + Math.floor(random() * 3);
      const frameRecords = 1 + Math.floor(random() * 4);
      const fanOut = 1 + Math.floor(random() * 6);
      const h = gateFor({ edges: [{ partition: 'rebalance', channels }], network: { frameRecords } });
      let next = 0;
      for (let step = 0; step < 500; step++) {
        if (random() < 0.7) {
          if (h.gate.blocked) continue;
          const n = 1 + Math.floor(random() * fanOut);
          for (let k = 0; k < n; k++) h.gate.emit(next++);
        } else h.gate.grant(0, Math.floor(random() * channels), 1);
      }
      // A record's fan-out spreads round robin; a channel's buffer may also hold frameRecords − 1 from before.
      const bound = Math.ceil((Math.ceil(fanOut / channels) + frameRecords - 1) / frameRecords);
      if (h.gate.peakWaitingFrames > bound) violations.push(`seed ${seed}: ${h.gate.peakWaitingFrames} frames waited, bound ${bound}`);
    }
    expect(violations).to.deep.equal([]);
  });
});

describe('OutputGate: chained edges', () => {
  type Event = string;

  /** A downstream instance as its chained upstream sees it, recording what it is given. */
  class FakeChainedInput implements ChainedInput {
    readonly records: unknown[] = [];
    blocked = false;
    listener?: () => void;
    constructor(private readonly log: Event[] = []) {}
    push(record: unknown): void {
      this.records.push(record);
      this.log.push(`push ${String(record)}`);
    }
    barrier(checkpointId: number): void {
      this.log.push(`barrier ${checkpointId}`);
    }
    watermark(watermark: number): void {
      this.log.push(`watermark ${watermark}`);
    }
    idle(): void {
      this.log.push('idle');
    }
    end(): void {
      this.log.push('end');
    }
    onWritable(listener: () => void): void {
      this.listener = listener;
    }
    /** Becomes writable again and says so, as an operator instance does. */
    unblock(): void {
      this.blocked = false;
      this.listener?.();
    }
  }

  /** A gate whose edge 0 is chained to `chained` (looked up through the option), and maybe a NATS edge 1 of `channels`. */
  function chainedGate(options: { chained?: FakeChainedInput; channels?: number; log?: Event[]; frameRecords?: number }) {
    const clock = new ManualClock();
    const log = options.log ?? [];
    let writable = 0;
    let lookups = 0;
    const channels = options.channels ?? 0;
    const specs: { spec: ChannelSpec; subjects: string[] }[] = [
      { spec: { edgeIndex: 0, peerVertexId: 'next', peerParallelism: 2, partition: 'forward', chained: true }, subjects: [subject(0, 0), subject(0, 1)] },
    ];
    if (channels > 0) {
      specs.push({
        spec: { edgeIndex: 1, peerVertexId: 'other', peerParallelism: channels, partition: 'rebalance' },
        subjects: range(channels).map((c) => subject(1, c)),
      });
    }
    const gate = new OutputGate(specs, {
      subtask: 1,
      attempt: ATTEMPT,
      maxParallelism: 128,
      network: { frameRecords: options.frameRecords ?? 100, frameBytes: 32768, bufferTimeoutMs: 5, credits: 8 },
      clock,
      chainedInput: (edgeIndex) => {
        lookups++;
        return edgeIndex === 0 ? options.chained : undefined;
      },
      publish: (to, bytes) => {
        const frame = decodeFrame<Frame>(bytes);
        log.push(`frame ${to.split('.').slice(-2).join('.')} [${frame.r.join()}]${frame.b === undefined ? '' : ` b${frame.b}`}${frame.e ? ' e' : ''}`);
      },
      localReceiver: () => undefined,
      onWritable: () => { writable++; },
      onError: (error) => { throw error; },
    });
    return { gate, clock, log, writable: () => writable, lookups: () => lookups };
  }

  it('hands every record to the chained input by call, in order, the very objects, with no frame and no timer', () => {
    const chained = new FakeChainedInput();
    const h = chainedGate({ chained });
    const sent = range(1000).map((i) => ({ i }));
    for (const record of sent) h.gate.emit(record);
    expect(chained.records).to.deep.equal(sent);
    chained.records.forEach((r, i) => expect(r).to.equal(sent[i]));
    expect(h.gate.recordsOut).to.equal(1000);
    expect(h.gate.framesOut).to.equal(0);
    expect(h.clock.pending, 'nothing buffered, nothing to flush').to.equal(0);
    expect(h.gate.drained).to.equal(true);
    expect(h.lookups(), 'looked up once').to.equal(1);
  });

  it('sends each record both to the chained input and over the other edges', () => {
    const log: Event[] = [];
    const chained = new FakeChainedInput(log);
    const h = chainedGate({ chained, channels: 2, log, frameRecords: 2 });
    for (let c = 0; c < 2; c++) h.gate.grant(1, c, 100);
    for (const i of range(6)) h.gate.emit(i);
    h.gate.flush();
    expect(chained.records).to.deep.equal(range(6));
    // Rebalance from subtask 1 starts at channel 1; flush() goes through the channels in order.
    expect(log.filter((e) => e.startsWith('frame'))).to.deep.equal(['frame e1.1 [0,2]', 'frame e1.0 [1,3]', 'frame e1.0 [5]', 'frame e1.1 [4]']);
  });

  it('is blocked while the chained input is blocked, though no frame waits', () => {
    const chained = new FakeChainedInput();
    const h = chainedGate({ chained });
    expect(h.gate.blocked).to.equal(false);
    chained.blocked = true;
    expect(h.gate.blocked).to.equal(true);
    expect(h.gate.waiting).to.equal(0);
    expect(h.gate.drained, 'drained: nothing of its own is left to send').to.equal(true);
    chained.blocked = false;
    expect(h.gate.blocked).to.equal(false);
  });

  it('calls onWritable when the chained input becomes writable, and not while its own frames still wait for credit', () => {
    const chained = new FakeChainedInput();
    const h = chainedGate({ chained, channels: 1, frameRecords: 1 });
    h.gate.emit('a');
    expect(h.gate.blocked, 'a frame waits on edge 1').to.equal(true);
    chained.blocked = true;
    chained.unblock();
    expect(h.writable(), 'edge 1 still waits').to.equal(0);
    h.gate.grant(1, 0, 1);
    expect(h.gate.blocked).to.equal(false);
    expect(h.writable()).to.equal(1);

    chained.blocked = true;
    expect(h.gate.blocked).to.equal(true);
    chained.unblock();
    expect(h.gate.blocked).to.equal(false);
    expect(h.writable()).to.equal(2);
  });

  it('never misses a wake-up: whenever the gate stops being blocked, onWritable has been called (seeded random)', () => {
    const violations: string[] = [];
    let unblockings = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const chained = new FakeChainedInput();
      const networkChannels = 1 + Math.floor(random() * 2);
      const h = chainedGate({ chained, channels: networkChannels, frameRecords: 1 + Math.floor(random() * 3) });
      for (let step = 0; step < 300; step++) {
        const wasBlocked = h.gate.blocked;
        const before = h.writable();
        const roll = random();
        if (roll < 0.5) {
          if (!wasBlocked) h.gate.emit(step);
        } else if (roll < 0.75) h.gate.grant(1, Math.floor(random() * networkChannels), 1);
        else if (roll < 0.88) chained.blocked = true;
        else chained.unblock();
        if (wasBlocked && !h.gate.blocked) {
          unblockings++;
          if (h.writable() === before) violations.push(`seed ${seed} step ${step}: unblocked without onWritable`);
        }
      }
    }
    expect(violations).to.deep.equal([]);
    expect(unblockings).to.be.greaterThan(1000);
  });

  it('forwards a barrier and end of input to the chained input after sending the other channels\' frames', () => {
    const log: Event[] = [];
    const chained = new FakeChainedInput(log);
    const h = chainedGate({ chained, channels: 1, log });
    h.gate.grant(1, 0, 100);
    for (const i of range(3)) h.gate.emit(i);
    h.gate.barrier(7);
    h.gate.emit(3);
    h.gate.end();
    expect(log).to.deep.equal([
      'push 0', 'push 1', 'push 2',
      'frame e1.0 [0,1,2] b7', 'barrier 7',
      'push 3',
      'frame e1.0 [3] e', 'end',
    ]);
  });

  it('forwards the barrier to the chained input at once even while the other channels\' frames wait for credit', () => {
    const log: Event[] = [];
    const chained = new FakeChainedInput(log);
    const h = chainedGate({ chained, channels: 1, log });
    h.gate.emit(0);
    h.gate.barrier(2);
    // Every record before the barrier is already in the chained instance: it may snapshot now.
    expect(log).to.deep.equal(['push 0', 'barrier 2']);
    h.gate.grant(1, 0, 1);
    expect(log).to.deep.equal(['push 0', 'barrier 2', 'frame e1.0 [0] b2']);
  });

  it('says which edge and vertex when the chained instance is not in this process', () => {
    const h = chainedGate({});
    expect(() => h.gate.emit('x')).to.throw(CloudflinkError, /the operator chained on edge 0 \(next\) is not in this process/);
    expect(() => h.gate.blocked).to.throw(CloudflinkError, /chained on edge 0/);
    expect(() => h.gate.end()).to.throw(CloudflinkError, /chained on edge 0/);
  });
});
