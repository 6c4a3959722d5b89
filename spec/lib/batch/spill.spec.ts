import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { expect } from 'chai';
import { removeOrphanedSpills, spillDirectory, spillRoot } from '../../../lib/batch/spill.ts';

describe('spill directories', () => {
  let root: string;
  beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'cloudflink-spill-spec-')); });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** The pid of a process that has exited. */
  function deadPid(): number {
    return Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
  }

  function spill(name: string): string {
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'run-0.bin'), 'spilled');
    return dir;
  }

  const host = hostname().replace(/[^A-Za-z0-9_.]/g, '_');

  it('names a run of a subtask under the spill root, ending with the host and the process id', () => {
    const dir = spillDirectory({ jobId: 'j1', attempt: 2, execution: 1, vertexId: 'sort', subtask: 3 });
    expect(dir.startsWith(spillRoot())).to.equal(true);
    expect(basename(dir)).to.equal(`j1-2-sort-3-e1-${host}-pid${process.pid}`);
  });

  it('removes the directories of this host\'s processes that exited, and only those', async () => {
    const dead = deadPid();
    const gone = spill(`j1-0-join-1-e0-${host}-pid${dead}`);
    const mine = spill(`j1-0-join-0-e0-${host}-pid${process.pid}`);
    const elsewhere = spill(`j1-0-join-2-e0-${host}x-pid${dead}`);
    const foreign = spill('not-ours');
    expect(await removeOrphanedSpills(root)).to.deep.equal([basename(gone)]);
    expect(existsSync(gone)).to.equal(false);
    for (const kept of [mine, elsewhere, foreign]) expect(existsSync(kept), kept).to.equal(true);
  });

  it('finds nothing to do when there is no spill root', async () => {
    expect(await removeOrphanedSpills(join(root, 'absent'))).to.deep.equal([]);
  });
});
