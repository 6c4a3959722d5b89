import { expect } from 'chai';
import { canonicalKey, keyGroupOf, murmur3, subtaskForKey, subtaskForKeyGroup } from '../../../lib/partition/index.ts';

describe('key groups', () => {
  it('gives equal keys equal canonical forms, whatever the object key order', () => {
    expect(canonicalKey({ a: 1, b: 'x' })).to.equal(canonicalKey({ b: 'x', a: 1 }));
    expect(canonicalKey([1, 'a'])).to.not.equal(canonicalKey(['1', 'a']));
    expect(canonicalKey(new Date(5))).to.equal(canonicalKey(new Date(5)));
    expect(canonicalKey(10n)).to.not.equal(canonicalKey(10));
    expect(canonicalKey(-0)).to.equal(canonicalKey(0));
  });

  it('hashes deterministically and tells near keys apart', () => {
    expect(murmur3('')).to.equal(0);
    expect(murmur3('hello')).to.equal(murmur3('hello'));
    expect(murmur3('hello')).to.not.equal(murmur3('hellp'));
  });

  it('maps key groups to contiguous subtask ranges covering every subtask', () => {
    const owners = Array.from({ length: 128 }, (_, kg) => subtaskForKeyGroup(kg, 128, 4));
    expect(owners.slice(0, 32).every((o) => o === 0)).to.equal(true);
    expect(owners.slice(96).every((o) => o === 3)).to.equal(true);
    expect(new Set(owners).size).to.equal(4);
    for (let i = 1; i < owners.length; i++) expect(owners[i]).to.be.at.least(owners[i - 1]!);
  });

  it('spreads many keys roughly evenly over subtasks', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 40000; i++) counts[subtaskForKey(canonicalKey(`word-${i}`), 128, 4)]!++;
    for (const c of counts) expect(c).to.be.within(8000, 12000);
    expect(keyGroupOf(canonicalKey('x'), 128)).to.be.within(0, 127);
  });
});
