import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { CheckpointMetadata, CheckpointStorage, StateHandle } from '../../../lib/checkpoint/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';

/** A storage under test, and a look behind it: what the backend really holds, independent of the storage's own answers. */
export interface StorageUnderTest {
  storage: CheckpointStorage;
  /** Keys of the state blobs stored for a job (files, objects), sorted. */
  blobs(jobId: string): Promise<string[]>;
  /** Pointers that name no checkpoint: well formed but absent, or not a pointer at all. */
  badPointers: string[];
  dispose?(): Promise<void>;
}

let jobs = 0;
/** A fresh job id per test, so tests sharing a bucket or directory never see each other. */
export const newJobId = (): string => `job-${process.pid}-${++jobs}`;

/** State bytes that differ per vertex, subtask and checkpoint. */
export function stateBytes(vertexId: string, subtask: number, checkpointId: number, size = 64): Uint8Array {
  const bytes = new Uint8Array(size);
  const seed = `${vertexId}/${subtask}/${checkpointId}`;
  for (let i = 0; i < size; i++) bytes[i] = (seed.charCodeAt(i % seed.length) + i) & 0xff;
  return bytes;
}

const VERTICES = [{ id: 'source', parallelism: 2 }, { id: 'map/ü x', parallelism: 1 }];

/** Writes every task's state for a checkpoint and, when `complete`, its metadata; returns the pointer and metadata. */
export async function writeCheckpoint(
  storage: CheckpointStorage, jobId: string, checkpointId: number,
  options: { complete?: boolean; savepoint?: boolean } = {},
): Promise<{ pointer?: string; metadata: CheckpointMetadata }> {
  const vertices: CheckpointMetadata['vertices'] = {};
  let size = 0;
  for (const vertex of VERTICES) {
    const handles: (StateHandle | null)[] = [];
    for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
      const handle = await storage.writeState(jobId, checkpointId, vertex.id, subtask, stateBytes(vertex.id, subtask, checkpointId));
      size += handle.size;
      handles.push(handle);
    }
    vertices[vertex.id] = { parallelism: vertex.parallelism, handles };
  }
  const metadata: CheckpointMetadata = {
    jobId, jobName: 'word count', checkpointId, savepoint: options.savepoint ?? false,
    triggeredAt: '2024-01-01T00:00:00.000Z', completedAt: '2024-01-01T00:00:00.250Z', durationMs: 250,
    size, maxParallelism: 128, vertices,
  };
  if (options.complete === false) return { metadata };
  const pointer = await storage.writeMetadata(metadata);
  return { pointer, metadata: await storage.readMetadata(pointer) };
}

async function expectStateOf(storage: CheckpointStorage, metadata: CheckpointMetadata, checkpointId: number): Promise<void> {
  for (const vertex of VERTICES) {
    const handles = metadata.vertices[vertex.id]!.handles;
    expect(handles).to.have.length(vertex.parallelism);
    for (const [subtask, handle] of handles.entries()) {
      expect(handle, `${vertex.id}/${subtask}`).to.not.equal(null);
      expect(await storage.readState(metadata.jobId, handle!)).to.deep.equal(stateBytes(vertex.id, subtask, checkpointId));
    }
  }
}

/** The behaviour every checkpoint storage promises, run against one backend. */
export function describeStorage(name: string, make: () => Promise<StorageUnderTest>): void {
  describe(`${name} checkpoint storage`, () => {
    let under: StorageUnderTest;
    let storage: CheckpointStorage;
    beforeEach(async () => {
      under = await make();
      storage = under.storage;
    });
    afterEach(async () => {
      await storage.close();
      await under.dispose?.();
    });

    it('round-trips state and metadata, and finds the checkpoint as the latest completed', async () => {
      const jobId = newJobId();
      expect(await storage.latest(jobId)).to.equal(undefined);
      expect(await storage.completed(jobId)).to.deep.equal([]);

      const handle = await storage.writeState(jobId, 1, 'source', 0, stateBytes('source', 0, 1));
      expect(handle.size).to.equal(64);
      const { pointer, metadata } = await writeCheckpoint(storage, jobId, 1);
      expect(metadata.checkpointId).to.equal(1);
      expect(metadata.savepoint).to.equal(false);
      expect(metadata.vertices['map/ü x']!.parallelism).to.equal(1);

      expect(await storage.completed(jobId)).to.deep.equal([1]);
      const latest = await storage.latest(jobId);
      expect(latest?.pointer).to.equal(pointer);
      expect(latest?.metadata).to.deep.equal(metadata);
      await expectStateOf(storage, metadata, 1);
      expect(await under.blobs(jobId)).to.have.length(3);
    });

    it('keeps a null handle (a task with nothing to keep) as null', async () => {
      const jobId = newJobId();
      const metadata: CheckpointMetadata = {
        jobId, jobName: 'empty', checkpointId: 7, savepoint: false, triggeredAt: 'a', completedAt: 'b', durationMs: 0,
        size: 0, maxParallelism: 128, vertices: { sink: { parallelism: 2, handles: [null, null] } },
      };
      const pointer = await storage.writeMetadata(metadata);
      expect(await storage.readMetadata(pointer)).to.deep.equal(metadata);
      expect(await storage.completed(jobId)).to.deep.equal([7]);
    });

    it('does not count a checkpoint without metadata as completed', async () => {
      const jobId = newJobId();
      await writeCheckpoint(storage, jobId, 1);
      await writeCheckpoint(storage, jobId, 2, { complete: false });
      expect(await storage.completed(jobId)).to.deep.equal([1]);
      expect((await storage.latest(jobId))?.metadata.checkpointId).to.equal(1);

      const only = newJobId();
      await writeCheckpoint(storage, only, 1, { complete: false });
      expect(await storage.completed(only)).to.deep.equal([]);
      expect(await storage.latest(only)).to.equal(undefined);
    });

    it('keeps savepoints apart from the latest and completed checkpoints, and out of retain', async () => {
      const jobId = newJobId();
      const checkpoint = await writeCheckpoint(storage, jobId, 1);
      const savepoint = await writeCheckpoint(storage, jobId, 2, { savepoint: true });
      expect(savepoint.pointer).to.not.equal(checkpoint.pointer);
      expect(savepoint.metadata.savepoint).to.equal(true);
      expect(await storage.completed(jobId)).to.deep.equal([1]);
      expect((await storage.latest(jobId))?.pointer).to.equal(checkpoint.pointer);

      await writeCheckpoint(storage, jobId, 3);
      await writeCheckpoint(storage, jobId, 4);
      await storage.retain(jobId, 1);
      expect(await storage.completed(jobId)).to.deep.equal([4]);
      // The savepoint's id is below the latest and not a completed checkpoint, yet it survives whole.
      const again = await storage.readMetadata(savepoint.pointer!);
      expect(again).to.deep.equal(savepoint.metadata);
      await expectStateOf(storage, again, 2);
    });

    it('retains the two latest completed checkpoints, removing older and abandoned partial ones', async () => {
      const jobId = newJobId();
      const written = new Map<number, CheckpointMetadata>();
      for (const id of [1, 2, 4, 5]) written.set(id, (await writeCheckpoint(storage, jobId, id)).metadata);
      await writeCheckpoint(storage, jobId, 3, { complete: false }); // abandoned: older than the latest
      await writeCheckpoint(storage, jobId, 6, { complete: false }); // in flight: newer, so kept
      expect(await under.blobs(jobId)).to.have.length(6 * 3);

      await storage.retain(jobId, 2);

      expect(await storage.completed(jobId)).to.deep.equal([4, 5]);
      expect((await storage.latest(jobId))?.metadata.checkpointId).to.equal(5);
      const kept = await under.blobs(jobId);
      expect(kept).to.have.length(3 * 3);
      for (const key of kept) expect(key).to.match(/chk-[456]\//);
      await expectStateOf(storage, written.get(4)!, 4);
      await expectStateOf(storage, written.get(5)!, 5);
      const gone = written.get(1)!.vertices.source!.handles[0]!;
      await expect(storage.readState(jobId, gone)).to.be.rejectedWith(CloudflinkError, /chk-1\//);

      await storage.retain(jobId, 2); // nothing more to do
      expect(await storage.completed(jobId)).to.deep.equal([4, 5]);
    });

    it('discards a completed checkpoint, a partial one and a savepoint, state and metadata', async () => {
      const jobId = newJobId();
      const { pointer } = await writeCheckpoint(storage, jobId, 1);
      await writeCheckpoint(storage, jobId, 2, { complete: false });
      const savepoint = await writeCheckpoint(storage, jobId, 3, { savepoint: true });

      await storage.discard(jobId, 1);
      expect(await storage.completed(jobId)).to.deep.equal([]);
      expect(await storage.latest(jobId)).to.equal(undefined);
      await expect(storage.readMetadata(pointer!)).to.be.rejectedWith(CloudflinkError);
      await storage.discard(jobId, 2);
      await storage.discard(jobId, 3);
      await expect(storage.readMetadata(savepoint.pointer!)).to.be.rejectedWith(CloudflinkError);
      expect(await under.blobs(jobId)).to.deep.equal([]);

      await storage.discard(jobId, 99); // never existed: nothing to do
    });

    it('rejects a pointer to nothing with an error naming it', async () => {
      const jobId = newJobId();
      await writeCheckpoint(storage, jobId, 1);
      for (const pointer of under.badPointers) {
        const error = await storage.readMetadata(pointer).then(() => undefined, (e: unknown) => e);
        expect(error, pointer).to.be.instanceOf(CloudflinkError);
        // A path may come back resolved; its last segment is always in the message.
        expect((error as Error).message, pointer).to.include(pointer.split('/').filter(Boolean).at(-1)!);
      }
    });

    it('round-trips a 5 MB state blob', async () => {
      const jobId = newJobId();
      const big = randomBytes(5 * 1024 * 1024);
      const handle = await storage.writeState(jobId, 1, 'window', 3, big);
      expect(handle.size).to.equal(big.byteLength);
      const back = await storage.readState(jobId, handle);
      expect(back.byteLength).to.equal(big.byteLength);
      expect(Buffer.from(back).equals(big)).to.equal(true);
    });

    it('overwrites a task\'s state written twice for one checkpoint (a retried write)', async () => {
      const jobId = newJobId();
      await storage.writeState(jobId, 1, 'source', 0, stateBytes('source', 0, 99));
      const handle = await storage.writeState(jobId, 1, 'source', 0, stateBytes('source', 0, 1));
      expect(await storage.readState(jobId, handle)).to.deep.equal(stateBytes('source', 0, 1));
      expect(await under.blobs(jobId)).to.have.length(1);
    });

    it('refuses a job id that would escape its place', async () => {
      await expect(storage.writeState('../etc', 1, 'v', 0, new Uint8Array(1))).to.be.rejectedWith(CloudflinkError, /job id '..\/etc'/);
      await expect(storage.completed('a.b')).to.be.rejectedWith(CloudflinkError, /job id 'a.b'/);
    });
  });
}
