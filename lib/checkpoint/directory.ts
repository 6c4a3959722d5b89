import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkCheckpointId, checkJobId, checkpointError, idOf, kindOf, parseMetadata, stateName, toDiscard, type CheckpointKind,
} from './common.ts';
import type { CheckpointMetadata, CheckpointStorage, StateHandle } from './types.ts';

const METADATA = '_metadata';

/**
 * Checkpoints in a directory: `<root>/<jobId>/chk-<n>/<vertexId>-<subtask>.state` and
 * `<root>/<jobId>/chk-<n>/_metadata`; savepoints in `sp-<n>/`. Every file is written under a
 * temporary name and renamed, so a crash never leaves a torn file under its real name, and
 * `_metadata` (written last) is what makes a checkpoint complete. The pointer is the
 * checkpoint's absolute directory. Handle keys are relative to the root.
 */
export class DirectoryCheckpointStorage implements CheckpointStorage {
  readonly root: string;
  readonly description: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `directory ${this.root}`;
  }

  async writeState(jobId: string, checkpointId: number, vertexId: string, subtask: number, bytes: Uint8Array): Promise<StateHandle> {
    checkJobId(jobId);
    checkCheckpointId(checkpointId);
    const key = `${jobId}/chk-${checkpointId}/${stateName(vertexId, subtask)}.state`;
    const path = join(this.root, key);
    try {
      await mkdir(join(this.root, jobId, `chk-${checkpointId}`), { recursive: true });
      await writeAtomically(path, bytes);
    } catch (error) {
      throw checkpointError(`cannot write state ${path}: ${(error as Error).message}`, { path }, error);
    }
    return { key, size: bytes.byteLength };
  }

  async readState(jobId: string, handle: StateHandle): Promise<Uint8Array> {
    const path = isAbsolute(handle.key) ? handle.key : join(this.root, handle.key);
    try {
      const buffer = await readFile(path);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw checkpointError(missing
        ? `state ${path} of job ${jobId} does not exist: its checkpoint was discarded or written elsewhere`
        : `cannot read state ${path} of job ${jobId}: ${(error as Error).message}`, { path, jobId }, error);
    }
  }

  async writeMetadata(metadata: CheckpointMetadata): Promise<string> {
    checkJobId(metadata.jobId);
    checkCheckpointId(metadata.checkpointId);
    const kind = kindOf(metadata);
    const dir = this.dirOf(metadata.jobId, kind, metadata.checkpointId);
    const written = kind === 'sp' ? await this.moveToSavepoint(metadata) : metadata;
    const path = join(dir, METADATA);
    try {
      await mkdir(dir, { recursive: true });
      await writeAtomically(path, new TextEncoder().encode(`${JSON.stringify(written, null, 2)}\n`));
    } catch (error) {
      throw checkpointError(`cannot write checkpoint metadata ${path}: ${(error as Error).message}`, { path }, error);
    }
    return dir;
  }

  readMetadata(pointer: string): Promise<CheckpointMetadata> {
    return readDirectoryMetadata(pointer);
  }

  async latest(jobId: string): Promise<{ pointer: string; metadata: CheckpointMetadata } | undefined> {
    const id = (await this.completed(jobId)).at(-1);
    if (id === undefined) return undefined;
    const pointer = this.dirOf(jobId, 'chk', id);
    return { pointer, metadata: await readDirectoryMetadata(pointer) };
  }

  async completed(jobId: string): Promise<number[]> {
    return (await this.scan(jobId)).chk.filter((c) => c.complete).map((c) => c.id);
  }

  async discard(jobId: string, checkpointId: number): Promise<void> {
    checkJobId(jobId);
    // Ids are unique per job whatever the kind: an aborted savepoint may have got as far as sp-<n>.
    await this.remove(jobId, 'chk', checkpointId);
    await this.remove(jobId, 'sp', checkpointId);
  }

  async retain(jobId: string, retained: number): Promise<void> {
    const { chk, sp } = await this.scan(jobId);
    const completed = chk.filter((c) => c.complete).map((c) => c.id);
    const partial = chk.filter((c) => !c.complete).map((c) => c.id);
    const latest = completed.at(-1);
    for (const id of toDiscard(completed, partial, retained)) await this.remove(jobId, 'chk', id);
    // A savepoint whose metadata never arrived is as abandoned as a partial checkpoint.
    for (const s of sp) if (!s.complete && latest !== undefined && s.id < latest) await this.remove(jobId, 'sp', s.id);
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  private dirOf(jobId: string, kind: CheckpointKind, checkpointId: number): string {
    return join(this.root, jobId, `${kind}-${checkpointId}`);
  }

  /** Metadata first: a crash half-way leaves a partial checkpoint (cleaned later), never a complete one with holes. */
  private async remove(jobId: string, kind: CheckpointKind, checkpointId: number): Promise<void> {
    const dir = this.dirOf(jobId, kind, checkpointId);
    await rm(join(dir, METADATA), { force: true });
    await rm(dir, { recursive: true, force: true });
  }

  /** Checkpoint and savepoint directories of a job, ascending, each with whether its metadata is there. */
  private async scan(jobId: string): Promise<Record<CheckpointKind, { id: number; complete: boolean }[]>> {
    checkJobId(jobId);
    let names: string[];
    try {
      names = await readdir(join(this.root, jobId));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { chk: [], sp: [] };
      throw checkpointError(`cannot list checkpoints in ${join(this.root, jobId)}: ${(error as Error).message}`, { path: join(this.root, jobId) }, error);
    }
    const found = async (kind: CheckpointKind): Promise<{ id: number; complete: boolean }[]> => {
      const ids = names.map((name) => idOf(name, kind)).filter((id): id is number => id !== undefined).sort((a, b) => a - b);
      return Promise.all(ids.map(async (id) => ({ id, complete: await isFile(join(this.dirOf(jobId, kind, id), METADATA)) })));
    };
    return { chk: await found('chk'), sp: await found('sp') };
  }

  /**
   * A savepoint's state was written under chk-<n> (tasks do not know the kind); it moves to
   * sp-<n> so retain() never takes it for an abandoned checkpoint. A directory rename is atomic.
   */
  private async moveToSavepoint(metadata: CheckpointMetadata): Promise<CheckpointMetadata> {
    const { jobId, checkpointId } = metadata;
    const from = this.dirOf(jobId, 'chk', checkpointId);
    const to = this.dirOf(jobId, 'sp', checkpointId);
    try {
      await rename(from, to);
    } catch (error) {
      // Nothing was written (every handle null), or a retried write already moved it.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw checkpointError(`cannot move savepoint state ${from} to ${to}: ${(error as Error).message}`, { path: from }, error);
      }
    }
    const prefix = `${jobId}/chk-${checkpointId}/`;
    const vertices: CheckpointMetadata['vertices'] = {};
    for (const [id, vertex] of Object.entries(metadata.vertices)) {
      vertices[id] = {
        parallelism: vertex.parallelism,
        handles: vertex.handles.map((h) => (h && h.key.startsWith(prefix) ? { ...h, key: `${jobId}/sp-${checkpointId}/${h.key.slice(prefix.length)}` } : h)),
      };
    }
    return { ...metadata, vertices };
  }
}

/** Reads metadata from a checkpoint directory or its `_metadata` file (a path or a file: URL). */
export async function readDirectoryMetadata(pointer: string): Promise<CheckpointMetadata> {
  const path = resolve(pointer.startsWith('file:') ? fileURLToPath(pointer) : pointer);
  const file = basename(path) === METADATA ? path : join(path, METADATA);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' || code === 'ENOTDIR'
      ? 'does not exist: not a checkpoint or savepoint directory, or one that never completed'
      : `cannot be read: ${(error as Error).message}`;
    throw checkpointError(`checkpoint metadata ${file} ${why}`, { pointer, path: file }, error);
  }
  return parseMetadata(text, `checkpoint metadata ${file}`);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Temp name, fsync, rename: the real name only ever holds a whole file. */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
