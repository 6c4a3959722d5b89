import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { compareKeys, rangePartitionLogic, sampleLogic, type KeySample } from '../../../../../actors/operator/logic/batch/range.ts';
import type { Collector } from '../../../../../actors/operator/logic/types.ts';
import { prng } from '../../../../helpers/random.ts';

interface Rec { k: number | string | null; i: number }
const keyOf = (record: unknown): unknown => (record as Rec).k;

/** Samples each subtask's records, hands every sample to every partitioner (as the broadcast edge does), and routes. */
function partition(subtasks: Rec[][], channels: number, order: 'asc' | 'desc', memoryBytes: number, directory: string): Rec[][] {
  const samples = subtasks.map((records, s) => {
    const sampler = sampleLogic(keyOf, 100, s + 1);
    for (const record of records) sampler.process!(record, { emit: () => undefined }, 1);
    const out: unknown[] = [];
    expect(sampler.drain!({ emit: (r) => out.push(r) }, 10)).to.equal(true);
    return out[0] as KeySample;
  });
  const routed: Rec[][] = Array.from({ length: channels }, () => []);
  subtasks.forEach((records, s) => {
    const logic = rangePartitionLogic(keyOf, order, { memoryBytes, directory: join(directory, `p${s}`) }, 'range');
    for (const record of records) logic.process!(record, { emit: () => undefined }, 1);
    for (const sample of samples) logic.process!(sample, { emit: () => undefined }, 2);
    const out: Collector = { emit: (record) => routed[logic.channelOf!(record, channels)]!.push(record as Rec) };
    while (!logic.drain!(out, 7));
    logic.close!();
  });
  return routed;
}

describe('range partitioning (batch.sample, batch.rangePartition)', () => {
  let directory: string;
  beforeEach(() => { directory = mkdtempSync(join(tmpdir(), 'cloudflink-range-')); });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('samples at most `size` keys of a subtask, and counts all its records', () => {
    const sampler = sampleLogic(keyOf, 10, 1);
    for (let i = 0; i < 1000; i++) sampler.process!({ k: i, i }, { emit: () => undefined }, 1);
    const out: unknown[] = [];
    sampler.drain!({ emit: (r) => out.push(r) }, 1);
    const sample = out[0] as KeySample;
    expect(sample.count).to.equal(1000);
    expect(sample.keys).to.have.length(10);
    expect(new Set(sample.keys).size).to.equal(10);
  });

  for (const order of ['asc', 'desc'] as const) {
    for (const [parallelism, channels] of [[1, 3], [4, 4], [3, 7]] as const) {
      it(`sends every record once, to ranges in ${order} order, keeping equal keys together (${parallelism} → ${channels} subtasks)`, () => {
        const random = prng(parallelism * 10 + channels);
        // Skewed: one key holds a third of the records.
        const records: Rec[] = Array.from({ length: 6000 }, (_, i) => ({ k: random() < 0.33 ? 500 : Math.floor(random() * 10_000), i }));
        const subtasks = Array.from({ length: parallelism }, (_, s) => records.filter((_, i) => i % parallelism === s));
        const routed = partition(subtasks, channels, order, 16 * 1024, directory);
        expect(routed.flat().map((r) => r.i).sort((a, b) => a - b)).to.deep.equal(records.map((r) => r.i));
        const bounds = routed.filter((c) => c.length > 0).map((c) => [Math.min(...c.map((r) => r.k as number)), Math.max(...c.map((r) => r.k as number))]);
        for (let c = 1; c < bounds.length; c++) {
          if (order === 'asc') expect(bounds[c - 1]![1], `channel ${c - 1} ends before ${c} begins`).to.be.below(bounds[c]![0]!);
          else expect(bounds[c - 1]![0], `channel ${c - 1} ends after ${c} begins`).to.be.above(bounds[c]![1]!);
        }
        // Unskewed ranges get about their share.
        const shares = routed.map((c) => c.filter((r) => r.k !== 500).length);
        const fair = shares.reduce((a, b) => a + b, 0) / channels;
        for (const share of shares) expect(share).to.be.within(0, 3 * fair);
        expect(readdirSync(directory).flatMap((d) => readdirSync(join(directory, d)))).to.deep.equal([]);
      });
    }
  }

  it('orders null keys first, and refuses to compare strings with numbers', () => {
    expect([3, null, 1].sort((a, b) => compareKeys(a, b, 'r'))).to.deep.equal([null, 1, 3]);
    expect([compareKeys(undefined, 1, 'r'), compareKeys(null, undefined, 'r'), compareKeys('b', 'a', 'r')]).to.deep.equal([-1, 0, 1]);
    expect(compareKeys(2n, 1, 'r')).to.equal(1);
    expect(() => compareKeys('a', 1, 'range')).to.throw(/'range' sorts by numbers, bigints or strings, one kind/);
  });
});
