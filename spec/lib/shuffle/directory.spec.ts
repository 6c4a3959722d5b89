import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { DirectoryCheckpointStorage } from '../../../lib/checkpoint/index.ts';
import type { CheckpointSettings } from '../../../lib/checkpoint/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { DirectoryShuffleStorage, openShuffleStorage } from '../../../lib/shuffle/index.ts';
import { writeCheckpoint } from '../checkpoint/storage-suite.ts';
import { describeShuffleStorage, frame, newJobId, partition, readAll, writeAll } from './storage-suite.ts';

/** Every file under `dir`, relative to `root`, sorted. */
async function filesUnder(root: string, dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name))).sort();
}

/** File descriptors of this process open on something under `root`. */
function descriptorsUnder(root: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(join('/proc/self/fd', fd)).startsWith(root);
    } catch {
      return false; // closed while we looked (the readdir's own descriptor)
    }
  }).length;
}

const settings = (overrides: Partial<CheckpointSettings>): CheckpointSettings =>
  ({ storage: 'directory', directory: '', retained: 1, replicas: 1, ...overrides });

describe('directory shuffle partitions', () => {
  let root: string;
  before(() => { root = mkdtempSync(join(tmpdir(), 'cloudflink-shuffle-spec-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  describeShuffleStorage('directory', async () => ({
    storage: new DirectoryShuffleStorage(root),
    stored: (jobId) => filesUnder(root, join(root, jobId)),
    held: async () => descriptorsUnder(root),
  }));

  it('lays partitions out as <root>/<jobId>/shuffle/a<attempt>/e<edge>/<from>.<execution>-<to>.frames, with no temp files left', async () => {
    const storage = new DirectoryShuffleStorage(root);
    const jobId = newJobId();
    await writeAll(storage, partition(jobId, { attempt: 2, edgeIndex: 1, from: 0, to: 3 }), [frame(1, 1, 10)]);
    await writeAll(storage, partition(jobId, { attempt: 2, edgeIndex: 1, from: 4, to: 0 }), []);
    expect(await filesUnder(root, join(root, jobId))).to.deep.equal([
      `${jobId}/shuffle/a2/e1/0.0-3.frames`,
      `${jobId}/shuffle/a2/e1/4.0-0.frames`,
    ]);
    expect(storage.description).to.equal(`directory ${root}`);
  });

  it('stores each frame after its 4-byte big-endian length', async () => {
    const storage = new DirectoryShuffleStorage(root);
    const id = partition(newJobId());
    await writeAll(storage, id, [Uint8Array.of(7, 8, 9), new Uint8Array(0), Uint8Array.of(1)]);
    const { readFileSync } = await import('node:fs');
    expect([...readFileSync(storage.pathOf(id))]).to.deep.equal([0, 0, 0, 3, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  });

  it('says a partition cut short is damaged', async () => {
    const storage = new DirectoryShuffleStorage(root);
    const id = partition(newJobId());
    await writeAll(storage, id, [frame(1, 0, 300_000), frame(1, 1, 300_000)]);
    truncateSync(storage.pathOf(id), 500_000);
    await expect(readAll(storage, id)).to.be.rejectedWith(CloudflinkError, /is damaged \(the file ends inside a frame\)/);
    expect(descriptorsUnder(root)).to.equal(0);
  });

  it('rejects close() with the path when the file cannot be written, and leaves nothing', async () => {
    const storage = new DirectoryShuffleStorage(root);
    const jobId = newJobId();
    mkdirSync(join(root, jobId), { recursive: true });
    writeFileSync(join(root, jobId, 'shuffle'), 'in the way');
    const writer = storage.writer(partition(jobId));
    // Below the buffered limit write() resolves at once; the failure shows on a later write or close.
    await writer.write(frame(1, 0, 10)).catch(() => undefined);
    for (let i = 0; i < 6; i++) await writer.write(frame(1, i, 1024 * 1024)).catch(() => undefined);
    await expect(writer.write(frame(1, 0, 10))).to.be.rejectedWith(CloudflinkError, /cannot write shuffle partition 0->0/);
    await expect(writer.close()).to.be.rejectedWith(CloudflinkError, new RegExp(`cannot write shuffle partition 0->0 .*${jobId}/shuffle/a1/e0/0.0-0.frames`));
    await writer.abort();
    expect(await filesUnder(root, join(root, jobId))).to.deep.equal([`${jobId}/shuffle`]);
  });

  it('shares the job directory with its checkpoints without disturbing them', async () => {
    const shuffle = new DirectoryShuffleStorage(root);
    const checkpoints = new DirectoryCheckpointStorage(root);
    const jobId = newJobId();
    await writeCheckpoint(checkpoints, jobId, 1);
    await writeCheckpoint(checkpoints, jobId, 2);
    await writeAll(shuffle, partition(jobId), [frame(1, 1, 10)]);
    await checkpoints.retain(jobId, 1);
    expect(await checkpoints.completed(jobId)).to.deep.equal([2]);
    expect(await readAll(shuffle, partition(jobId))).to.have.length(1);
    await shuffle.discard(jobId);
    expect(await checkpoints.completed(jobId)).to.deep.equal([2]);
    expect(readdirSync(join(root, jobId))).to.deep.equal(['chk-2']);
  });

  it('opens where the checkpoints settings point, and asks for a connection for JetStream', async () => {
    const configured = await openShuffleStorage(settings({ directory: root }));
    expect(configured.description).to.equal(`directory ${root}`);
    const fallback = await openShuffleStorage(settings({}), undefined, 'cf.spec-x');
    expect(fallback.description).to.equal(`directory ${join(tmpdir(), 'cloudflink-checkpoints', 'cf.spec-x')}`);
    await expect(openShuffleStorage(settings({ storage: 'jetstream' }))).to.be.rejectedWith(CloudflinkError, /needs a NATS connection/);
  });
});
