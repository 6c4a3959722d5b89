import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect } from 'chai';
import { DirectoryCheckpointStorage } from '../../../lib/checkpoint/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { describeStorage, newJobId, writeCheckpoint } from './storage-suite.ts';

/** Every file under `dir`, relative to `root`, sorted. */
async function filesUnder(root: string, dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name))).sort();
}

describe('directory checkpoints', () => {
  let root: string;
  before(() => { root = mkdtempSync(join(tmpdir(), 'cloudflink-checkpoints-spec-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  describeStorage('directory', async () => ({
    storage: new DirectoryCheckpointStorage(root),
    blobs: async (jobId) => (await filesUnder(root, join(root, jobId))).filter((f) => f.endsWith('.state')),
    badPointers: [join(root, 'no-such-job', 'chk-1'), join(root, 'no-such-job', 'chk-1', '_metadata'), 'relative/nowhere'],
  }));

  it('lays checkpoints out as <root>/<jobId>/chk-<n>/<vertex>-<subtask>.state and _metadata, with no temp files left', async () => {
    const storage = new DirectoryCheckpointStorage(root);
    const jobId = newJobId();
    const { pointer } = await writeCheckpoint(storage, jobId, 4);
    expect(pointer).to.equal(join(root, jobId, 'chk-4'));
    expect(await filesUnder(root, join(root, jobId))).to.deep.equal([
      `${jobId}/chk-4/_metadata`,
      `${jobId}/chk-4/map%2F%C3%BC%20x-0.state`,
      `${jobId}/chk-4/source-0.state`,
      `${jobId}/chk-4/source-1.state`,
    ]);
    expect(storage.description).to.equal(`directory ${root}`);
  });

  it('puts a savepoint, state and all, in sp-<n>', async () => {
    const storage = new DirectoryCheckpointStorage(root);
    const jobId = newJobId();
    const { pointer, metadata } = await writeCheckpoint(storage, jobId, 2, { savepoint: true });
    expect(pointer).to.equal(join(root, jobId, 'sp-2'));
    expect(readdirSync(join(root, jobId))).to.deep.equal(['sp-2']);
    expect(metadata.vertices.source!.handles[1]!.key).to.equal(`${jobId}/sp-2/source-1.state`);
  });

  it('reads metadata given the checkpoint directory or its _metadata file', async () => {
    const storage = new DirectoryCheckpointStorage(root);
    const jobId = newJobId();
    const { pointer, metadata } = await writeCheckpoint(storage, jobId, 1);
    expect(await storage.readMetadata(join(pointer!, '_metadata'))).to.deep.equal(metadata);
    expect(await storage.readMetadata(`${pointer!}/`)).to.deep.equal(metadata);
  });

  it('does not take a left-over temporary metadata file (a crash mid-write) for a completed checkpoint', async () => {
    const storage = new DirectoryCheckpointStorage(root);
    const jobId = newJobId();
    await writeCheckpoint(storage, jobId, 1);
    await writeCheckpoint(storage, jobId, 2, { complete: false });
    writeFileSync(join(root, jobId, 'chk-2', '_metadata.tmp-123-abcd'), '{"jobId":');
    expect(await storage.completed(jobId)).to.deep.equal([1]);
  });

  it('says what is wrong with a _metadata file that is not metadata', async () => {
    const storage = new DirectoryCheckpointStorage(root);
    const dir = join(root, newJobId(), 'chk-1');
    await writeCheckpoint(storage, dir.split('/').at(-2)!, 1, { complete: false });
    writeFileSync(join(dir, '_metadata'), '{"jobId": "x"}');
    await expect(storage.readMetadata(dir)).to.be.rejectedWith(CloudflinkError, /_metadata is not checkpoint metadata/);
    writeFileSync(join(dir, '_metadata'), 'not json');
    await expect(storage.readMetadata(dir)).to.be.rejectedWith(CloudflinkError, /_metadata is not checkpoint metadata/);
  });

  it('cleans an abandoned savepoint directory (no metadata) older than the latest checkpoint', async () => {
    const storage = new DirectoryCheckpointStorage(root);
    const jobId = newJobId();
    await writeCheckpoint(storage, jobId, 1);
    await writeCheckpoint(storage, jobId, 2, { complete: false });
    await writeCheckpoint(storage, jobId, 3);
    const { renameSync } = await import('node:fs');
    renameSync(join(root, jobId, 'chk-2'), join(root, jobId, 'sp-2'));
    await storage.retain(jobId, 5);
    expect(readdirSync(join(root, jobId)).sort()).to.deep.equal(['chk-1', 'chk-3']);
  });
});
