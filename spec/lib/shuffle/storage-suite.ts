import { expect } from 'chai';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import type { PartitionId, ShuffleStorage } from '../../../lib/shuffle/index.ts';
import { prng } from '../../helpers/random.ts';

/** A storage under test, and a look behind it: what the backend really holds, independent of the storage's own answers. */
export interface ShuffleUnderTest {
  storage: ShuffleStorage;
  /** Everything the backend holds for a job (files, temporary ones too; objects), as sorted names. */
  stored(jobId: string): Promise<string[]>;
  /** Resources a reader could hold open in the backend (file descriptors into the root, consumers). */
  held(): Promise<number>;
  dispose?(): Promise<void>;
}

let jobs = 0;
/** A fresh job id per test, so tests sharing a bucket or directory never see each other. */
export const newJobId = (): string => `job-${process.pid}-${++jobs}`;

export const partition = (jobId: string, overrides: Partial<PartitionId> = {}): PartitionId =>
  ({ jobId, attempt: 1, execution: 0, edgeIndex: 0, from: 0, to: 0, ...overrides });

/** Frame `index` of a stream `seed`: its bytes differ per stream and per frame. */
export function frame(seed: number, index: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (seed * 131 + index * 31 + i * 7) & 0xff;
  return bytes;
}

/** Sizes from 0 bytes through tiny to ~900 KB, in a replayable order. */
export function frameSizes(seed: number, count: number): number[] {
  const random = prng(seed);
  const kinds = [() => 0, () => 1 + Math.floor(random() * 16), () => Math.floor(random() * 4096), () => 60_000 + Math.floor(random() * 10_000), () => 900_000 + Math.floor(random() * 20_000)];
  const weights = [2, 6, 6, 3, 1];
  const pool = weights.flatMap((w, k) => Array.from({ length: w }, () => kinds[k]!));
  return Array.from({ length: count }, () => pool[Math.floor(random() * pool.length)]!());
}

export async function writeAll(storage: ShuffleStorage, id: PartitionId, frames: Uint8Array[]): Promise<void> {
  const writer = storage.writer(id);
  for (const f of frames) await writer.write(f);
  await writer.close();
}

export async function readAll(storage: ShuffleStorage, id: PartitionId): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for await (const f of storage.read(id)) frames.push(f);
  return frames;
}

function expectFrames(actual: Uint8Array[], expected: Uint8Array[]): void {
  expect(actual.map((f) => f.byteLength)).to.deep.equal(expected.map((f) => f.byteLength));
  for (const [i, f] of expected.entries()) expect(Buffer.from(actual[i]!).equals(f), `frame ${i}`).to.equal(true);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => expect.fail('expected a rejection'), (error: unknown) => error);
}

/** The behaviour every shuffle storage promises, run against one backend. */
export function describeShuffleStorage(name: string, make: () => Promise<ShuffleUnderTest>): void {
  describe(`${name} shuffle storage`, () => {
    let under: ShuffleUnderTest;
    let storage: ShuffleStorage;
    beforeEach(async () => {
      under = await make();
      storage = under.storage;
    });
    afterEach(async () => {
      await storage.close();
      await under.dispose?.();
    });

    it('round-trips frames of 0 bytes, a few bytes and ~900 KB, in order', async () => {
      const id = partition(newJobId(), { edgeIndex: 2, from: 1, to: 3 });
      const frames = frameSizes(7, 60).map((size, i) => frame(7, i, size));
      expect(frames.some((f) => f.byteLength === 0) && frames.some((f) => f.byteLength > 900_000)).to.equal(true);
      await writeAll(storage, id, frames);
      expectFrames(await readAll(storage, id), frames);
    });

    it('keeps the order of writes the caller did not await, and lets it reuse a frame buffer once written', async () => {
      const id = partition(newJobId());
      const frames = frameSizes(3, 200).map((size, i) => frame(3, i, size));
      const writer = storage.writer(id);
      await Promise.all(frames.map((f) => writer.write(f)));
      const scratch = frame(1, 1, 70_000);
      await writer.write(scratch);
      scratch.fill(0);
      await writer.close();
      expectFrames(await readAll(storage, id), [...frames, frame(1, 1, 70_000)]);
    });

    it('reads an empty partition as no frames, and one empty frame as one', async () => {
      const jobId = newJobId();
      await writeAll(storage, partition(jobId, { to: 0 }), []);
      expect(await readAll(storage, partition(jobId, { to: 0 }))).to.deep.equal([]);
      await writeAll(storage, partition(jobId, { to: 1 }), [new Uint8Array(0)]);
      expectFrames(await readAll(storage, partition(jobId, { to: 1 })), [new Uint8Array(0)]);
    });

    it('replaces a partition written again (a re-run of the producer)', async () => {
      const id = partition(newJobId());
      await writeAll(storage, id, [frame(1, 0, 500_000), frame(1, 1, 10)]);
      await writeAll(storage, id, [frame(2, 0, 20)]);
      expectFrames(await readAll(storage, id), [frame(2, 0, 20)]);
      expect(await under.stored(id.jobId)).to.have.length(1);
    });

    it('shows nothing of a partition before close, and nothing after abort', async () => {
      const jobId = newJobId();
      const id = partition(jobId);
      const writer = storage.writer(id);
      await writer.write(frame(1, 0, 300_000));
      await expect(readAll(storage, id)).to.be.rejectedWith(CloudflinkError);
      await writer.abort();
      await writer.abort(); // twice is fine
      const error = await rejection(readAll(storage, id));
      expect((error as CloudflinkError).code).to.equal('SHUFFLE_MISSING');
      await expect(writer.write(frame(1, 1, 1))).to.be.rejectedWith(CloudflinkError, /after close\(\) or abort\(\)/);
      expect(await under.stored(jobId)).to.deep.equal([]);

      // An abort that never wrote, and one after a close, leave nothing either.
      await storage.writer(partition(jobId, { to: 1 })).abort();
      const closed = storage.writer(partition(jobId, { to: 2 }));
      await closed.write(frame(1, 2, 10));
      await closed.close();
      await closed.abort();
      expect(await under.stored(jobId)).to.deep.equal([]);

      // A failed writer's abort leaves alone what another writer (the run that replaced it) closed.
      const failed = storage.writer(partition(jobId, { to: 3 }));
      await failed.write(frame(1, 3, 10));
      await writeAll(storage, partition(jobId, { to: 3 }), [frame(2, 3, 10)]);
      await failed.abort();
      expectFrames(await readAll(storage, partition(jobId, { to: 3 })), [frame(2, 3, 10)]);
    });

    it('keeps the runs of a producer subtask apart: a re-run writes beside the run before', async () => {
      const jobId = newJobId();
      await writeAll(storage, partition(jobId, { execution: 0 }), [frame(1, 0, 10)]);
      await writeAll(storage, partition(jobId, { execution: 1 }), [frame(2, 0, 20)]);
      expectFrames(await readAll(storage, partition(jobId, { execution: 0 })), [frame(1, 0, 10)]);
      expectFrames(await readAll(storage, partition(jobId, { execution: 1 })), [frame(2, 0, 20)]);
    });

    it('says which partition is missing and where', async () => {
      const id = partition(newJobId(), { attempt: 4, edgeIndex: 2, from: 5, to: 6 });
      const iterator = storage.read(id); // nothing happens until next()
      const error = await rejection(iterator.next());
      expect(error).to.be.instanceOf(CloudflinkError);
      expect((error as CloudflinkError).code).to.equal('SHUFFLE_MISSING');
      const message = (error as Error).message;
      expect(message).to.include(`shuffle partition 5->6 of edge 2 (job ${id.jobId}, attempt 4, run 0 of subtask 5)`);
      expect(message).to.include(storage.description);
      expect(message).to.match(/re-run the producer/);
    });

    it('discards all of a job, or the attempts below one, leaving other jobs alone', async () => {
      const jobId = newJobId();
      const other = newJobId();
      for (const attempt of [1, 2, 3]) {
        for (const to of [0, 1]) await writeAll(storage, partition(jobId, { attempt, to }), [frame(attempt, to, 100)]);
      }
      await writeAll(storage, partition(other, { attempt: 1 }), [frame(9, 9, 9)]);

      await storage.discard(jobId, 3);
      for (const attempt of [1, 2]) {
        await expect(readAll(storage, partition(jobId, { attempt }))).to.be.rejectedWith(CloudflinkError, /is not in/);
      }
      expectFrames(await readAll(storage, partition(jobId, { attempt: 3, to: 1 })), [frame(3, 1, 100)]);
      expect(await under.stored(jobId)).to.have.length(2);

      await storage.discard(jobId);
      expect(await under.stored(jobId)).to.deep.equal([]);
      expectFrames(await readAll(storage, partition(other, { attempt: 1 })), [frame(9, 9, 9)]);

      await storage.discard(jobId); // nothing left: fine
      await storage.discard(newJobId(), 5); // never written: fine
    });

    it('keeps partitions written at the same time apart', async () => {
      const jobId = newJobId();
      const ids = [partition(jobId, { to: 0 }), partition(jobId, { to: 1 }), partition(jobId, { edgeIndex: 1, to: 0 })];
      const framesOf = ids.map((_, p) => frameSizes(20 + p, 40).map((size, i) => frame(20 + p, i, size)));
      const writers = ids.map((id) => storage.writer(id));
      // Interleaved frame by frame.
      for (let i = 0; i < 40; i++) await Promise.all(writers.map((w, p) => w.write(framesOf[p]![i]!)));
      await Promise.all(writers.map((w) => w.close()));
      const back = await Promise.all(ids.map((id) => readAll(storage, id)));
      for (const [p, frames] of back.entries()) expectFrames(frames, framesOf[p]!);
    });

    it('releases what a reader holds when it stops half-way', async () => {
      const id = partition(newJobId());
      const frames = Array.from({ length: 40 }, (_, i) => frame(5, i, 64 * 1024));
      await writeAll(storage, id, frames);
      const before = await under.held();
      let read = 0;
      for await (const f of storage.read(id)) {
        expect(Buffer.from(f).equals(frames[read]!)).to.equal(true);
        if (++read === 20) break; // return() on the iterator
      }
      expect(await under.held()).to.equal(before);

      const iterator = storage.read(id);
      await iterator.next();
      await iterator.return?.();
      expect(await iterator.next()).to.deep.equal({ done: true, value: undefined });
      expect(await under.held()).to.equal(before);
    });

    it('refuses to close twice, and ids that would escape their place', async () => {
      const writer = storage.writer(partition(newJobId()));
      await writer.close();
      await expect(writer.close()).to.be.rejectedWith(CloudflinkError, /closed or aborted already/);
      expect(() => storage.writer(partition('../etc'))).to.throw(CloudflinkError, /job id '..\/etc'/);
      expect(() => storage.writer(partition('job', { to: -1 }))).to.throw(CloudflinkError, /to must be a whole number/);
      await expect(readAll(storage, partition('a.b'))).to.be.rejectedWith(CloudflinkError, /job id 'a.b'/);
      await expect(storage.discard('a/b')).to.be.rejectedWith(CloudflinkError, /job id 'a\/b'/);
    });
  });
}
