import { expect } from 'chai';
import { subtaskForKeyGroup } from '../../../lib/partition/index.ts';
import { contains, keyGroupRangeFor } from '../../../lib/state/index.ts';

describe('key-group ranges', () => {
  const pairs: [number, number][] = [];
  for (let p = 1; p <= 10; p++) pairs.push([p, 128]);
  for (const maxP of [1, 2, 3, 7, 10, 64, 100, 127, 128, 129, 256, 1000, 32768]) {
    for (const p of new Set([1, 2, 3, 5, Math.floor(maxP / 2) || 1, maxP - 1 || 1, maxP])) if (p <= maxP) pairs.push([p, maxP]);
  }

  it('are contiguous, disjoint, cover [0, maxP) and agree with subtaskForKeyGroup', () => {
    // Plain checks collected, not one assertion per key group: maxP = 32768 has many.
    const problems: string[] = [];
    for (const [p, maxP] of pairs) {
      let next = 0;
      for (let i = 0; i < p; i++) {
        const range = keyGroupRangeFor(i, p, maxP);
        const at = `p=${p} maxP=${maxP} subtask ${i} [${range.start}, ${range.end})`;
        if (range.start !== next) problems.push(`${at}: starts at ${range.start}, not ${next}`);
        if (range.end <= range.start) problems.push(`${at}: empty`);
        for (let kg = range.start; kg < range.end; kg++) {
          if (subtaskForKeyGroup(kg, maxP, p) !== i) problems.push(`${at}: kg ${kg} goes to ${subtaskForKeyGroup(kg, maxP, p)}`);
          if (!contains(range, kg)) problems.push(`${at}: does not contain ${kg}`);
        }
        if (contains(range, range.start - 1) || contains(range, range.end)) problems.push(`${at}: contains a neighbour`);
        next = range.end;
      }
      if (next !== maxP) problems.push(`p=${p} maxP=${maxP}: ends at ${next}`);
    }
    expect(problems).to.deep.equal([]);
    expect(pairs.length).to.be.greaterThan(60);
  });

  it('match Flink for maxP = 128', () => {
    expect(keyGroupRangeFor(0, 3, 128)).to.deep.equal({ start: 0, end: 43 });
    expect(keyGroupRangeFor(1, 3, 128)).to.deep.equal({ start: 43, end: 86 });
    expect(keyGroupRangeFor(2, 3, 128)).to.deep.equal({ start: 86, end: 128 });
    expect(keyGroupRangeFor(5, 128, 128)).to.deep.equal({ start: 5, end: 6 });
  });

  it('refuse a parallelism above maxParallelism and a subtask out of range', () => {
    expect(() => keyGroupRangeFor(0, 129, 128)).to.throw(/parallelism must be an integer in \[1, 128\]/);
    expect(() => keyGroupRangeFor(2, 2, 128)).to.throw(/subtask must be an integer in \[0, 2\)/);
    expect(() => keyGroupRangeFor(0, 0, 128)).to.throw(/parallelism/);
  });
});
