import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '../../../../lib/codec/index.ts';
import { CloudflinkError } from '../../../../lib/errors/index.ts';
import { exactlyOnceFileSink } from '../../../../actors/operator/logic/file-sink.ts';
import type { OperatorLogic } from '../../../../actors/operator/logic/types.ts';
import { prng } from '../../../helpers/random.ts';
import { range } from '../../../helpers/nats.ts';

const noOutput = { emit: (): void => { throw new Error('a sink emits nothing'); } };

function feed(logic: OperatorLogic, records: unknown[]): void {
  for (const record of records) logic.process!(record, noOutput);
}

/** Operator state goes to checkpoint storage and back as msgpack. */
const snapshot = (logic: OperatorLogic, checkpointId: number): unknown => decode(encode(logic.snapshotState!(checkpointId)));

const isCommitted = (name: string): boolean => name.startsWith('part-');
const isInProgress = (name: string): boolean => name.startsWith('.part-') && name.endsWith('.inprogress');

/** The lines of the files in `dir` that pass `which`, in no particular order. */
function linesOf(dir: string, which: (name: string) => boolean): string[] {
  return readdirSync(dir).filter(which).flatMap((name) => {
    const text = readFileSync(join(dir, name), 'utf8');
    if (text === '') return [];
    expect(text.endsWith('\n'), `${name} ends with a newline`).to.equal(true);
    return text.slice(0, -1).split('\n');
  });
}

/** What a reader of the output sees: every line of every `part-*` file, sorted. */
const visible = (dir: string): string[] => linesOf(dir, isCommitted).sort();
const hidden = (dir: string): string[] => linesOf(dir, isInProgress).sort();
const sortedLines = (values: unknown[]): string[] => values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).sort();

describe('exactlyOnceFileSink', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cloudflink-file-sink-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes records visible only when the checkpoint they are in completes', () => {
    const sink = exactlyOnceFileSink(join(dir, 'out'), { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
    const out = join(dir, 'out');
    feed(sink, ['a', { b: 1 }, 3]);
    expect(visible(out)).to.be.empty;
    snapshot(sink, 1);
    expect(visible(out), 'snapshotted, not complete').to.be.empty;
    expect(hidden(out)).to.deep.equal(sortedLines(['a', { b: 1 }, 3]));
    feed(sink, ['d']);
    sink.notifyCheckpointComplete!(1);
    expect(visible(out)).to.deep.equal(sortedLines(['a', { b: 1 }, 3]));
    expect(readdirSync(out).filter(isCommitted)).to.have.length(1);
    expect(readdirSync(out).filter(isCommitted)[0]).to.match(/^part-job-a0-0-/);

    snapshot(sink, 2);
    expect(visible(out), 'd is in checkpoint 2').to.deep.equal(sortedLines(['a', { b: 1 }, 3]));
    sink.notifyCheckpointComplete!(2);
    expect(visible(out)).to.deep.equal(sortedLines(['a', { b: 1 }, 3, 'd']));
    expect(hidden(out)).to.be.empty;
    sink.close!();
  });

  it('keeps the files of a checkpoint that never completes hidden, and what came after the last checkpoint too', () => {
    const sink = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
    feed(sink, ['one']);
    snapshot(sink, 1);
    sink.notifyCheckpointComplete!(1);
    feed(sink, ['two']);
    snapshot(sink, 2);
    feed(sink, ['three']);
    sink.notifyCheckpointComplete!(1);
    sink.close!();
    expect(visible(dir)).to.deep.equal(['one']);
    // 'three' may not even have reached the disk: only what a checkpoint covers is ever committed.
    expect(hidden(dir), 'written, but invisible').to.include('two');
  });

  it('commits every checkpoint up to the one completed: a lost notification is made up by the next', () => {
    const sink = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
    feed(sink, ['in 1']);
    snapshot(sink, 1);
    feed(sink, ['in 2']);
    snapshot(sink, 2);
    feed(sink, ['in 3']);
    snapshot(sink, 3);
    sink.notifyCheckpointComplete!(2);
    expect(visible(dir)).to.deep.equal(['in 1', 'in 2']);
    sink.notifyCheckpointComplete!(1);
    sink.notifyCheckpointComplete!(99);
    expect(visible(dir)).to.deep.equal(['in 1', 'in 2', 'in 3']);
    expect(readdirSync(dir).filter(isCommitted)).to.have.length(3);
  });

  it('writes no file for a checkpoint with no records since the one before', () => {
    const sink = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
    snapshot(sink, 1);
    feed(sink, ['x']);
    snapshot(sink, 2);
    snapshot(sink, 3);
    sink.notifyCheckpointComplete!(3);
    expect(readdirSync(dir)).to.have.length(1);
    expect(visible(dir)).to.deep.equal(['x']);
  });

  it('keeps every record, in order, past its write batch', () => {
    const sink = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
    const records = range(10_001).map((i) => (i % 2 === 0 ? `line ${i}` : { i }));
    feed(sink, records);
    snapshot(sink, 1);
    sink.notifyCheckpointComplete!(1);
    const [file] = readdirSync(dir).filter(isCommitted);
    expect(readFileSync(join(dir, file!), 'utf8')).to.equal(`${records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`);
  });

  it('finish() commits nothing yet; the final commit, run once the whole job has FINISHED, commits everything left', () => {
    const sink = exactlyOnceFileSink(dir, { subtask: 2, parallelism: 3, jobId: 'job', attempt: 0 });
    feed(sink, ['a']);
    snapshot(sink, 1);
    feed(sink, ['b']);
    sink.finish!(noOutput);
    // A failure elsewhere before the job FINISHED would replay what is left: it must not be visible yet.
    expect(visible(dir)).to.be.empty;
    expect(hidden(dir), 'everything written to disk').to.deep.equal(['a', 'b']);
    const commit = sink.finalCommit!();
    expect(commit).to.be.a('function');
    // The instance is released (closed) before the job finishes; the commit runs later, in the Task Manager.
    sink.close!();
    expect(visible(dir)).to.be.empty;
    commit!();
    expect(visible(dir)).to.deep.equal(['a', 'b']);
    expect(hidden(dir)).to.be.empty;
    expect(readdirSync(dir).every((name) => name.startsWith('part-job-a0-2-'))).to.equal(true);
  });

  it('has no final commit when every file was committed by a checkpoint, or nothing was written', () => {
    const sink = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
    feed(sink, ['a']);
    snapshot(sink, 1);
    sink.notifyCheckpointComplete!(1);
    sink.finish!(noOutput);
    expect(sink.finalCommit!()).to.equal(undefined);
    const empty = exactlyOnceFileSink(join(dir, 'empty'), { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
    empty.finish!(noOutput);
    expect(empty.finalCommit!()).to.equal(undefined);
    expect(readdirSync(join(dir, 'empty'))).to.be.empty;
  });

  it('close() commits nothing', () => {
    const sink = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
    feed(sink, ['a']);
    snapshot(sink, 1);
    feed(sink, ['b']);
    sink.close!();
    sink.close!();
    expect(visible(dir)).to.be.empty;
    expect(hidden(dir)).to.include('a');
  });

  describe('restore', () => {
    it('commits the pending files of the checkpoint restored; what was written after it stays hidden', () => {
      const old = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
      feed(old, ['a', 'b']);
      const state = snapshot(old, 1);
      feed(old, ['after the checkpoint']);
      old.close!(); // failed before checkpoint 1's notification

      const restored = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
      restored.restoreState!([state]);
      expect(visible(dir)).to.deep.equal(['a', 'b']);
      // The records after the checkpoint are replayed by the sources.
      feed(restored, ['after the checkpoint', 'c']);
      restored.finish!(noOutput);
      const commit = restored.finalCommit!();
      restored.close!();
      commit!();
      expect(visible(dir)).to.deep.equal(['a', 'after the checkpoint', 'b', 'c']);
    });

    it('does not commit a file twice when the checkpoint had already completed before the failure, or on a second restore', () => {
      const old = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
      feed(old, ['a']);
      const state = snapshot(old, 1);
      old.notifyCheckpointComplete!(1);
      old.close!();
      expect(visible(dir)).to.deep.equal(['a']);
      for (let restores = 0; restores < 2; restores++) {
        const restored = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
        restored.restoreState!([state]);
        restored.close!();
      }
      expect(visible(dir)).to.deep.equal(['a']);
      expect(readdirSync(dir)).to.have.length(1);
    });

    it('commits every old subtask\'s files exactly once when every restored subtask gets every state (3 → 2, 2 → 5, 4 → 1)', () => {
      for (const [from, to] of [[3, 2], [2, 5], [4, 1]] as const) {
        const out = join(dir, `${from}-${to}`);
        const old = range(from).map((i) => exactlyOnceFileSink(out, { subtask: i, parallelism: from, jobId: 'job', attempt: 0 }));
        old.forEach((sink, i) => feed(sink, [`from ${i}: 1`, `from ${i}: 2`]));
        const states = old.map((sink) => snapshot(sink, 7));
        old.forEach((sink) => sink.close!());
        const restored = range(to).map((i) => exactlyOnceFileSink(out, { subtask: i, parallelism: to, jobId: 'job', attempt: 0 }));
        for (const sink of restored) sink.restoreState!(states);
        expect(visible(out), `${from} → ${to}`).to.deep.equal(range(from).flatMap((i) => [`from ${i}: 1`, `from ${i}: 2`]).sort());
        expect(readdirSync(out).filter(isCommitted)).to.have.length(from);
        expect(hidden(out)).to.be.empty;
      }
    });

    it('has old subtask j\'s files committed by new subtask j mod p alone', () => {
      const old = range(4).map((i) => exactlyOnceFileSink(dir, { subtask: i, parallelism: 4, jobId: 'job', attempt: 0 }));
      old.forEach((sink, i) => feed(sink, [`from ${i}`]));
      const states = old.map((sink) => snapshot(sink, 1));
      old.forEach((sink) => sink.close!());
      exactlyOnceFileSink(dir, { subtask: 1, parallelism: 2, jobId: 'job', attempt: 0 }).restoreState!(states);
      expect(visible(dir)).to.deep.equal(['from 1', 'from 3']);
      exactlyOnceFileSink(dir, { subtask: 0, parallelism: 2, jobId: 'job', attempt: 0 }).restoreState!(states);
      expect(visible(dir)).to.deep.equal(['from 0', 'from 1', 'from 2', 'from 3']);
    });

    it('skips the missing state of an old subtask', () => {
      const old = exactlyOnceFileSink(dir, { subtask: 1, parallelism: 2, jobId: 'job', attempt: 0 });
      feed(old, ['b']);
      const state = snapshot(old, 1);
      old.close!();
      exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 }).restoreState!([undefined, state]);
      expect(visible(dir)).to.deep.equal(['b']);
    });

    it('fails clearly when a pending file of the checkpoint is gone', () => {
      const old = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
      feed(old, ['a']);
      const state = snapshot(old, 1);
      old.close!();
      for (const name of readdirSync(dir)) unlinkSync(join(dir, name));
      let caught: unknown;
      try {
        exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 }).restoreState!([state]);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(CloudflinkError);
      expect((caught as CloudflinkError).code).to.equal('TASK_FAILED');
      expect((caught as Error).message).to.match(/pending output file .* is gone/);
    });
  });

  it('fails clearly when it cannot create the output directory', () => {
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, '');
    expect(() => exactlyOnceFileSink(join(blocker, 'out'), { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 })).to.throw(CloudflinkError, /cannot create the output directory/);
  });

  it('writes every record exactly once through failures, restores at other parallelisms and lost notifications (seeded runs)', function () {
    this.timeout(30_000); // many seeded runs on the file system; nothing here is timed
    let failures = 0;
    let lateFailures = 0;
    let rescales = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const random = prng(seed);
      const out = join(dir, `run-${seed}`);
      const total = 50 + Math.floor(random() * 400);
      // The job's last completed checkpoint: where its sources restart, and the sink states to restore.
      let completed: { id: number; offset: number; states: unknown[] } | undefined;
      let nextId = 1;
      let parallelism = 1 + Math.floor(random() * 4);
      let attempts = 0;
      for (;;) {
        attempts++;
        const sinks = range(parallelism).map((i) => exactlyOnceFileSink(out, { subtask: i, parallelism: parallelism, jobId: 'job', attempt: 0 }));
        if (completed) for (const sink of sinks) sink.restoreState!(completed.states);
        let offset = completed?.offset ?? 0;
        let failed = false;
        while (offset < total) {
          const roll = random();
          if (roll < 0.08) {
            // A checkpoint: every sink snapshots at its (aligned) barrier; maybe every task acknowledges it.
            const id = nextId++;
            const states = sinks.map((sink) => snapshot(sink, id));
            if (random() < 0.7) {
              completed = { id, offset, states };
              // Each notification may be lost with the failure that follows.
              for (const sink of sinks) if (random() < 0.8) sink.notifyCheckpointComplete!(id);
            }
          } else if (roll < 0.1 && attempts < 6) {
            failed = true;
            break;
          } else {
            // Records reach the sinks by round robin from the source's position.
            const record = `record ${offset}`;
            sinks[offset % parallelism]!.process!(record, noOutput);
            offset++;
          }
        }
        if (!failed) {
          // Each sink finishes and is released; its final commit waits for the whole job to finish.
          const commits = sinks.map((sink) => {
            sink.finish!(noOutput);
            const commit = sink.finalCommit!();
            sink.close!();
            return commit;
          });
          if (random() < 0.15 && attempts < 6) {
            // Another task fails before the job FINISHED: the final commits are given up, the run restarts.
            failures++;
            lateFailures++;
            continue;
          }
          for (const commit of commits) commit?.();
          break;
        }
        for (const sink of sinks) sink.close!();
        failures++;
        const next = 1 + Math.floor(random() * 4);
        if (next !== parallelism) rescales++;
        parallelism = next;
      }
      const got = visible(out);
      const expected = range(total).map((i) => `record ${i}`).sort();
      if (got.join('\n') !== expected.join('\n')) {
        const counts = new Map<string, number>();
        for (const line of got) counts.set(line, (counts.get(line) ?? 0) + 1);
        const twice = [...counts].filter(([, n]) => n > 1).map(([line]) => line);
        const lost = expected.filter((line) => !counts.has(line));
        expect.fail(`seed ${seed}: ${twice.length} records twice (${twice.slice(0, 3).join(', ')}), ${lost.length} lost (${lost.slice(0, 3).join(', ')})`);
      }
    }
    expect(failures, 'runs that failed and were restored').to.be.greaterThan(40);
    expect(rescales, 'restores at another parallelism').to.be.greaterThan(25);
    expect(lateFailures, 'failures after the sinks finished, before the job did').to.be.greaterThan(3);
  });

  it('deletes on restore what earlier attempts wrote after the checkpoint, keeping what that checkpoint commits', () => {
    const first = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 0 });
    first.process!('a', { emit: () => undefined });
    const state = first.snapshotState!(1);
    first.process!('b', { emit: () => undefined });
    first.snapshotState!(2);
    first.process!('c', { emit: () => undefined });
    first.close!();
    // The failure came before checkpoint 1 completed; attempt 1 restores checkpoint 1.
    const second = exactlyOnceFileSink(dir, { subtask: 0, parallelism: 1, jobId: 'job', attempt: 1 });
    second.restoreState!([state]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.inprogress'))).to.deep.equal([]);
    const committed = readdirSync(dir).filter((f) => f.startsWith('part-'));
    expect(committed.map((f) => readFileSync(join(dir, f), 'utf8'))).to.deep.equal(['a\n']);
  });
});
