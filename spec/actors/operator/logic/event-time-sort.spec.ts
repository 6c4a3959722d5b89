import { expect } from 'chai';
import { decode, encode } from '../../../../lib/codec/index.ts';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { eventTimeSortLogic } from '../../../../actors/operator/logic/event-time-sort.ts';
import type { Collector, OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { thrownBy } from '../../../helpers/logic.ts';

interface Rec { id: number; t: number }
type Event = { record: Rec } | { watermark: number };
interface Emitted { id: number; t: number; at: number | undefined }

/** Records and side outputs as the logic emits them, with the timestamp of each. */
class Capture implements Collector {
  readonly main: Emitted[] = [];
  readonly late: Emitted[] = [];
  emit(record: unknown, timestamp?: number): void {
    this.main.push({ ...(record as Rec), at: timestamp });
  }
  emitTo(tag: string, record: unknown, timestamp?: number): void {
    expect(tag).to.equal('late');
    this.late.push({ ...(record as Rec), at: timestamp });
  }
}

const sorter = (lateTag?: string, subtask = 0, parallelism = 1): OperatorLogic =>
  eventTimeSortLogic({ subtask, parallelism, ...(lateTag === undefined ? {} : { lateTag }) }, 'sorted');

function feed(logic: OperatorLogic, events: Event[], out: Collector): void {
  for (const event of events) {
    if ('record' in event) logic.process!(event.record, out, 1, event.record.t);
    else logic.onWatermark!(event.watermark, out);
  }
}

/** The definition: at each watermark, every record waiting at or before it, by time then arrival; at or behind the watermark on arrival, late. */
function reference(events: Event[]): { main: Emitted[]; late: Emitted[] } {
  const main: Emitted[] = [];
  const late: Emitted[] = [];
  let waiting: Rec[] = [];
  let watermark = Number.NEGATIVE_INFINITY;
  for (const event of events) {
    if ('record' in event) {
      if (event.record.t <= watermark) late.push({ ...event.record, at: event.record.t });
      else waiting.push(event.record);
      continue;
    }
    watermark = event.watermark;
    const due = waiting.filter((r) => r.t <= watermark);
    waiting = waiting.filter((r) => r.t > watermark);
    // Stable: ties keep their arrival order.
    for (const r of [...due].sort((a, b) => a.t - b.t)) main.push({ ...r, at: r.t });
  }
  return { main, late };
}

/** Out-of-order records (duplicate and negative timestamps) with a bounded-delay watermark now and then, ending at +∞ when `end`. */
function randomEvents(seed: number, count: number, end = true): Event[] {
  const random = prng(seed);
  const spread = 1 + Math.floor(random() * 50);
  const delay = Math.floor(random() * 30);
  const events: Event[] = [];
  let clock = Math.floor((random() - 0.5) * 1000);
  let watermark = Number.NEGATIVE_INFINITY;
  for (let id = 0; id < count; id++) {
    clock += Math.floor(random() * 4);
    events.push({ record: { id, t: clock - Math.floor(random() * spread) } });
    if (random() < 0.15) {
      // Watermarks never go back; sometimes one repeats.
      watermark = Math.max(watermark, clock - delay - Math.floor(random() * 10));
      events.push({ watermark });
    }
  }
  if (end) events.push({ watermark: Number.POSITIVE_INFINITY });
  return events;
}

const ids = (emitted: Emitted[]): number[] => emitted.map((e) => e.id);

describe('eventTimeSortLogic', () => {
  it('holds records until the watermark passes them, then emits them by time and, on a tie, by arrival, each with its timestamp', () => {
    const logic = sorter();
    const out = new Capture();
    feed(logic, [{ record: { id: 0, t: 5 } }, { record: { id: 1, t: 3 } }, { record: { id: 2, t: 5 } }, { record: { id: 3, t: -2 } }, { record: { id: 4, t: 3 } }], out);
    expect(out.main).to.deep.equal([]);
    logic.onWatermark!(2, out);
    expect(out.main).to.deep.equal([{ id: 3, t: -2, at: -2 }]);
    logic.onWatermark!(4, out);
    expect(ids(out.main)).to.deep.equal([3, 1, 4]);
    logic.onWatermark!(5, out);
    expect(out.main).to.deep.equal([{ id: 3, t: -2, at: -2 }, { id: 1, t: 3, at: 3 }, { id: 4, t: 3, at: 3 }, { id: 0, t: 5, at: 5 }, { id: 2, t: 5, at: 5 }]);
  });

  it('sends a record at or behind the watermark to the late side output, with its timestamp; drops it when none is named', () => {
    const tagged = sorter('late');
    const out = new Capture();
    feed(tagged, [{ record: { id: 0, t: 10 } }, { watermark: 7 }, { record: { id: 1, t: 7 } }, { record: { id: 2, t: 6 } }, { record: { id: 3, t: 8 } }, { watermark: Number.POSITIVE_INFINITY }], out);
    expect(out.late).to.deep.equal([{ id: 1, t: 7, at: 7 }, { id: 2, t: 6, at: 6 }]);
    expect(ids(out.main)).to.deep.equal([3, 0]);

    const untagged = sorter();
    const quiet = new Capture();
    feed(untagged, [{ watermark: 7 }, { record: { id: 1, t: 7 } }, { record: { id: 3, t: 8 } }, { watermark: 8 }], quiet);
    expect(quiet.late).to.deep.equal([]);
    expect(ids(quiet.main)).to.deep.equal([3]);
    // A collector without side outputs at all is fine too.
    const logic = sorter('late');
    logic.onWatermark!(7, { emit: () => expect.fail('nothing is due') });
    logic.process!({ id: 1, t: 1 }, { emit: () => expect.fail('late') }, 1, 1);
  });

  it('refuses a record without a timestamp, saying the source needs event time', () => {
    const error = thrownBy(() => sorter().process!({ id: 0 }, new Capture(), 1, undefined));
    expect(error).to.be.instanceOf(CloudflinkError).with.property('code', 'UDF_FAILED');
    expect((error as Error).message).to.match(/'sorted'.*without a timestamp.*event time/);
  });

  for (let seed = 1; seed <= 40; seed++) {
    it(`equals the reference on random out-of-order input, late records included (seed ${seed})`, () => {
      const events = randomEvents(seed, 50 + seed * 20);
      const logic = sorter('late');
      const out = new Capture();
      feed(logic, events, out);
      const expected = reference(events);
      expect(out.main).to.deep.equal(expected.main);
      expect(out.late).to.deep.equal(expected.late);
      // Every record came out once, on one output or the other.
      expect([...ids(out.main), ...ids(out.late)].sort((a, b) => a - b)).to.deep.equal(events.flatMap((e) => ('record' in e ? [e.record.id] : [])));
    });
  }

  for (let seed = 1; seed <= 20; seed++) {
    it(`gives the same output when checkpointed as msgpack and restored mid-stream (seed ${seed})`, () => {
      const events = randomEvents(seed * 7, 400);
      const random = prng(seed);
      const cut = Math.floor(random() * events.length);
      const whole = new Capture();
      feed(sorter('late'), events, whole);

      const first = sorter('late');
      const out = new Capture();
      feed(first, events.slice(0, cut), out);
      const snapshot = decode(encode(first.snapshotState!(1)));
      const second = sorter('late');
      second.restoreState!([snapshot]);
      // After a restore the watermark comes again from the inputs: resend the last one, as they would.
      const last = events.slice(0, cut).reverse().find((e) => 'watermark' in e);
      feed(second, [...(last ? [last] : []), ...events.slice(cut)], out);
      expect(out.main).to.deep.equal(whole.main);
      expect(out.late).to.deep.equal(whole.late);
    });
  }

  it('forgets the watermark on restore: a record behind the old one waits, it is not late', () => {
    const logic = sorter('late');
    const out = new Capture();
    feed(logic, [{ record: { id: 0, t: 20 } }, { watermark: 10 }], out);
    const restored = sorter('late');
    restored.restoreState!([decode(encode(logic.snapshotState!(1)))]);
    restored.process!({ id: 1, t: 5 }, out, 1, 5);
    expect(out.late).to.deep.equal([]);
    restored.onWatermark!(Number.POSITIVE_INFINITY, out);
    expect(ids(out.main)).to.deep.equal([1, 0]);
  });

  it('snapshots plain data, [timestamp, seq, record] entries, unchanged by what comes after', () => {
    const logic = sorter();
    feed(logic, [{ record: { id: 0, t: 2 } }, { record: { id: 1, t: 1 } }], new Capture());
    const snapshot = logic.snapshotState!(1) as [number, number, Rec][];
    const copy = decode(encode(snapshot));
    expect(copy).to.deep.equal(snapshot);
    expect([...snapshot].sort((a, b) => a[0] - b[0])).to.deep.equal([[1, 1, { id: 1, t: 1 }], [2, 0, { id: 0, t: 2 }]]);
    feed(logic, [{ record: { id: 2, t: 0 } }, { watermark: 5 }], new Capture());
    expect(snapshot).to.deep.equal(copy);
    expect(logic.snapshotState!(2)).to.deep.equal([]);
  });

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`rescales: the buffers of 4 subtasks restored into 1, 2 and 3 lose and duplicate nothing, and keep each subtask's order (seed ${seed})`, () => {
      const random = prng(seed);
      let id = 0;
      const snapshots = [0, 1, 2, 3].map((subtask) => {
        const logic = sorter('late', subtask, 4);
        // Few distinct timestamps: many ties, within a subtask and across subtasks.
        const events: Event[] = Array.from({ length: Math.floor(random() * 60) }, () => ({ record: { id: id++, t: Math.floor((random() - 0.3) * 12) } }));
        events.push({ watermark: -3 });
        feed(logic, events, new Capture());
        return decode(encode(logic.snapshotState!(1)));
      });
      const buffered = snapshots.flatMap((s) => (s as [number, number, Rec][]).map((e) => e[2]));
      const subtaskOf = new Map(snapshots.flatMap((s, j) => (s as [number, number, Rec][]).map((e) => [e[2].id, j] as const)));
      for (const parallelism of [1, 2, 3]) {
        const outputs = Array.from({ length: parallelism }, (_, subtask) => {
          const logic = sorter('late', subtask, parallelism);
          logic.restoreState!(snapshots);
          const out = new Capture();
          logic.onWatermark!(Number.POSITIVE_INFINITY, out);
          expect(out.late).to.deep.equal([]);
          // Subtask s takes the old subtasks j ≡ s (mod parallelism).
          for (const e of out.main) expect(subtaskOf.get(e.id)! % parallelism).to.equal(subtask);
          // By time; on a tie from one old subtask, in that subtask's arrival order (ids grow with it).
          for (let i = 1; i < out.main.length; i++) {
            const [a, b] = [out.main[i - 1]!, out.main[i]!];
            expect(a.t <= b.t, `${a.t} before ${b.t}`).to.equal(true);
            if (a.t === b.t && subtaskOf.get(a.id) === subtaskOf.get(b.id)) expect(a.id).to.be.below(b.id);
          }
          return out.main;
        });
        expect(outputs.flat().map((e) => e.id).sort((a, b) => a - b), `parallelism ${parallelism}`)
          .to.deep.equal(buffered.map((r) => r.id).sort((a, b) => a - b));
      }
    });
  }

  it('keeps sequencing after a restore: a new record ties after the restored ones', () => {
    const logic = sorter('late', 1, 2);
    // Old subtasks 1 and 3 are this one's; 0 is not, 2 is missing.
    logic.restoreState!([[[4, 0, { id: 90, t: 4 }]], [[4, 7, { id: 1, t: 4 }], [4, 3, { id: 0, t: 4 }]], undefined, [[4, 0, { id: 2, t: 4 }], [1, 9, { id: 3, t: 1 }]]]);
    const out = new Capture();
    logic.process!({ id: 4, t: 4 }, out, 1, 4);
    logic.onWatermark!(4, out);
    // Ties: by original seq, then by old subtask; then the new record.
    expect(ids(out.main)).to.deep.equal([3, 2, 0, 1, 4]);
  });

  it('restores nothing from no snapshots, or from an empty checkpoint', () => {
    for (const states of [[], [undefined, undefined], [[], undefined, []]]) {
      const logic = sorter('late', 0, 1);
      logic.restoreState!(states);
      const out = new Capture();
      logic.onWatermark!(Number.POSITIVE_INFINITY, out);
      expect(out.main).to.deep.equal([]);
    }
  });

  it('handles a large buffer released in steps (a heap, not a sort per watermark)', () => {
    const logic = sorter();
    const out = new Capture();
    const n = 200_000;
    const random = prng(42);
    for (let i = 0; i < n; i++) {
      const t = Math.floor(random() * n);
      logic.process!({ id: i, t }, out, 1, t);
    }
    for (let w = 0; w < n; w += 100) logic.onWatermark!(w, out);
    logic.onWatermark!(Number.POSITIVE_INFINITY, out);
    expect(out.main).to.have.length(n);
    for (let i = 1; i < n; i++) {
      const [a, b] = [out.main[i - 1]!, out.main[i]!];
      if (a.t > b.t || (a.t === b.t && a.id > b.id)) expect.fail(`out of order at ${i}`);
    }
  });
});
