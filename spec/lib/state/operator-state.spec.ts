import { expect } from 'chai';
import { decode, encode } from '../../../lib/codec/index.ts';
import { restoreSplits, splitsFor, type SplitPositions } from '../../../lib/state/index.ts';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('source splits', () => {
  it('splitsFor over all subtasks is a partition of [0, S)', () => {
    for (const [p, S] of [[1, 128], [2, 128], [3, 128], [7, 128], [10, 128], [128, 128], [3, 10], [1, 1]] as const) {
      const all = range(p).flatMap((i) => splitsFor(i, p, S));
      expect(all, `p=${p} S=${S}`).to.deep.equal(range(S));
      for (let i = 0; i < p; i++) expect(splitsFor(i, p, S).length).to.be.greaterThan(0);
    }
  });

  for (const to of [4, 1, 3]) {
    it(`restoreSplits from p=2 to p=${to} keeps every split exactly once`, () => {
      const S = 128;
      // Each old subtask recorded a position (here split·10 + subtask) for every split it owned.
      const old: SplitPositions[] = range(2).map((i) => Object.fromEntries(splitsFor(i, 2, S).map((s) => [s, s * 10 + i])));
      const wire = old.map((o) => decode<SplitPositions>(encode(o)));
      const seen = new Map<number, number>();
      for (let i = 0; i < to; i++) {
        const own = splitsFor(i, to, S);
        const restored = restoreSplits(wire, own);
        expect(Object.keys(restored).map(Number).sort((a, b) => a - b)).to.deep.equal(own);
        for (const [split, position] of Object.entries(restored)) {
          expect(seen.has(Number(split))).to.equal(false);
          seen.set(Number(split), position);
        }
      }
      expect(seen.size).to.equal(S);
      for (const [split, position] of seen) expect(position).to.equal(split * 10 + (split < 64 ? 0 : 1));
    });
  }

  it('restoreSplits skips missing snapshots and leaves unrecorded splits to the caller', () => {
    expect(restoreSplits([undefined, { 3: 7 }, null], [2, 3])).to.deep.equal({ 3: 7 });
    expect(() => restoreSplits([{ 3: 7 }, { 3: 8 }], [3])).to.throw(/split 3 is in two snapshots/);
  });
});
