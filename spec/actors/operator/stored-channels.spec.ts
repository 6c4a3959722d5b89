import { expect } from 'chai';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, TaskDeployment } from '../../../actors/operator/protocol.ts';
import { StoredInputs, StoredOutputs } from '../../../actors/operator/stored-channels.ts';
import { encodeFrame } from '../../../lib/codec/index.ts';
import type { ResolvedVertex } from '../../../lib/descriptor/index.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';
import { DirectoryShuffleStorage, type PartitionId, type PartitionWriter, type ShuffleStorage } from '../../../lib/shuffle/index.ts';

const JOB = 'job-1';
const ATTEMPT = 2;
const EDGE = 3;

/** Subtask `subtask` of a vertex named `name`: all that the stored channels read of a deployment is jobId, attempt, subtask and the vertex's name. */
function task(subtask: number, name = 'Combine words'): TaskDeployment {
  return {
    jobId: JOB, jobName: 'wordcount', attempt: ATTEMPT, execution: 0, checkpointing: { enabled: false, mode: 'exactly-once' },
    vertex: { id: 'combine', name } as ResolvedVertex, subtask, slot: 0, maxParallelism: 128, inputs: [], outputs: [],
    network: { frameRecords: 100, frameBytes: 32768, bufferTimeoutMs: 5, credits: 4 }, collectLimit: 1000,
  };
}

/** Frame `n` from subtask `s`, the last one with end of input when `end`. */
const frame = (s: number, n: number, r: unknown[], end = false): Frame => ({ s, a: ATTEMPT, n, r, ...(end ? { e: true as const } : {}) });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `done()` holds; fails after a second. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !done(); waited += 5) {
    if (waited > 1000) expect.fail(`timed out waiting until ${what}`);
    await sleep(5);
  }
}

/** Every file below `dir`, relative to it. */
async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('stored channels', () => {
  let root: string;
  let storage: DirectoryShuffleStorage;
  /** Every StoredInputs a spec made, closed after it so that no partition file stays open. */
  let opened: StoredInputs[];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cf-stored-channels-'));
    storage = new DirectoryShuffleStorage(root);
    opened = [];
  });

  afterEach(async () => {
    for (const inputs of opened) inputs.close();
    await sleep(5); // lets the readers' return() close their files before the directory goes
    await storage.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Writes each channel's frames as producer subtask `from` would: through StoredOutputs, then close(). */
  async function produce(from: number, channels: Record<number, Frame[]>, edgeIndex = EDGE): Promise<void> {
    const errors: unknown[] = [];
    const outputs = new StoredOutputs(storage, task(from), () => {}, (error) => errors.push(error));
    const subjects = new Map(Object.keys(channels).map((to) => [Number(to), outputs.subject(edgeIndex, Number(to))]));
    outputs.open(4);
    for (const [to, frames] of Object.entries(channels)) for (const f of frames) outputs.write(subjects.get(Number(to))!, encodeFrame(f));
    await outputs.close();
    expect(errors).to.deep.equal([]);
  }

  /** A StoredInputs of consumer subtask `subtask`, recording what arrives and what fails. */
  function consumer(subtask: number, using: ShuffleStorage = storage) {
    const arrived: { edgeIndex: number; frame: Frame }[] = [];
    const errors: unknown[] = [];
    const inputs = new StoredInputs(using, task(subtask), (edgeIndex, f) => arrived.push({ edgeIndex, frame: f }), (error) => errors.push(error));
    opened.push(inputs);
    return { inputs, arrived, errors };
  }

  describe('written by StoredOutputs, read by StoredInputs', () => {
    it('hands the consumer every frame of each producer, in order, from the partition of the pair', async () => {
      for (const from of [0, 1]) {
        const channel = (to: number): Frame[] => [0, 1, 2].map((n) => frame(from, n, [`${from}->${to} #${n}`], n === 2));
        await produce(from, { 0: channel(0), 1: channel(1) });
      }
      const partition: PartitionId = { jobId: JOB, attempt: ATTEMPT, execution: 0, edgeIndex: EDGE, from: 0, to: 1 };
      expect(await filesIn(root)).to.include(storage.pathOf(partition).slice(root.length + 1));

      const { inputs, arrived, errors } = consumer(1);
      inputs.add(EDGE, 0, 0);
      inputs.add(EDGE, 1, 0);
      expect(inputs.has(EDGE)).to.equal(true);
      expect(inputs.has(EDGE + 1)).to.equal(false);
      inputs.grant(EDGE, 0, 10);
      inputs.grant(EDGE, 1, 10);
      await until(() => arrived.filter((a) => a.frame.e).length === 2, 'both channels ended');

      expect(errors).to.deep.equal([]);
      expect(arrived.every((a) => a.edgeIndex === EDGE)).to.equal(true);
      for (const from of [0, 1]) {
        expect(arrived.filter((a) => a.frame.s === from).map((a) => a.frame), `from subtask ${from}`).to.deep.equal([
          frame(from, 0, [`${from}->1 #0`]), frame(from, 1, [`${from}->1 #1`]), frame(from, 2, [`${from}->1 #2`], true),
        ]);
      }
    });

    it('ignores a grant for a channel it was not given', async () => {
      await produce(0, { 0: [frame(0, 0, ['x'], true)] });
      const { inputs, arrived, errors } = consumer(0);
      inputs.grant(EDGE, 0, 5);
      await sleep(20);
      expect(inputs.has(EDGE)).to.equal(false);
      expect(arrived).to.deep.equal([]);
      expect(errors).to.deep.equal([]);
    });
  });

  describe('StoredOutputs', () => {
    it('names each channel by a pseudo-subject it owns, and grants its credits on open()', async () => {
      const grants: [number, number, number][] = [];
      const outputs = new StoredOutputs(storage, task(0), (...grant) => grants.push(grant), () => {});
      const first = outputs.subject(EDGE, 0);
      const second = outputs.subject(EDGE, 1);
      expect(first).to.not.equal(second);
      expect(outputs.owns(first) && outputs.owns(second)).to.equal(true);
      expect(outputs.owns(`cf.data.${JOB}.e${EDGE}.0`)).to.equal(false);
      expect(grants, 'nothing before open()').to.deep.equal([]);
      outputs.open(4);
      expect(grants).to.deep.equal([[EDGE, 0, 4], [EDGE, 1, 4]]);
      await outputs.close();
    });

    it('gives back one credit on a channel as each of its writes completes', async () => {
      const grants: [number, number, number][] = [];
      const outputs = new StoredOutputs(storage, task(0), (...grant) => grants.push(grant), (error) => expect.fail(String(error)));
      const to0 = outputs.subject(EDGE, 0);
      const to1 = outputs.subject(EDGE, 1);
      outputs.open(2);
      grants.length = 0;
      outputs.write(to0, encodeFrame(frame(0, 0, [1])));
      outputs.write(to0, encodeFrame(frame(0, 1, [2])));
      outputs.write(to1, encodeFrame(frame(0, 0, [3])));
      await until(() => grants.length === 3, 'three writes completed');
      expect(grants.filter(([, to]) => to === 0)).to.deep.equal([[EDGE, 0, 1], [EDGE, 0, 1]]);
      expect(grants.filter(([, to]) => to === 1)).to.deep.equal([[EDGE, 1, 1]]);
      expect(outputs.isClosing).to.equal(false);
      const closing = outputs.close();
      expect(outputs.isClosing).to.equal(true);
      await closing;
    });

    it('leaves nothing readable, nor any temporary file, when aborted before close()', async () => {
      const outputs = new StoredOutputs(storage, task(0), () => {}, () => {});
      const subject = outputs.subject(EDGE, 0);
      outputs.open(4);
      for (let n = 0; n < 3; n++) outputs.write(subject, encodeFrame(frame(0, n, [n], n === 2)));
      await sleep(5);
      await outputs.abort();
      expect(outputs.isClosing).to.equal(false);
      expect(await filesIn(root)).to.deep.equal([]);

      const { inputs, arrived, errors } = consumer(0);
      inputs.add(EDGE, 0, 0);
      inputs.grant(EDGE, 0, 10);
      await until(() => errors.length > 0, 'the read failed');
      expect(arrived).to.deep.equal([]);
      expect(errors[0]).to.be.instanceOf(CloudflinkError).with.property('code', 'SHUFFLE_MISSING');
    });

    it('fails close() with TASK_FAILED naming the subtask, the vertex and the storage when the partition cannot be written', async () => {
      // A file where the job's directory goes: no partition can be made below it, whoever runs the spec.
      await writeFile(join(root, JOB), 'in the way');
      const errors: unknown[] = [];
      const outputs = new StoredOutputs(storage, task(1, 'Count words'), () => {}, (error) => errors.push(error));
      const subject = outputs.subject(EDGE, 0);
      outputs.open(4);
      outputs.write(subject, encodeFrame(frame(1, 0, ['a'], true)));

      const error = await outputs.close().then(() => expect.fail('close() resolved'), (e: unknown) => e);
      expect(error).to.be.instanceOf(CloudflinkError);
      expect((error as CloudflinkError).code).to.equal('TASK_FAILED');
      expect((error as Error).message).to.include("subtask 2 of 'Count words'").and.include(storage.description);
      expect((error as Error).cause, 'the storage error as its cause').to.be.instanceOf(CloudflinkError);
      expect(await filesIn(root)).to.deep.equal([JOB]);
    });

    it('reports a failed write to onError, gives no credit for it, and aborts every partition when close() fails', async () => {
      const failure = new Error('disk full');
      const calls: string[] = [];
      const writer = (to: number): PartitionWriter => ({
        write: async () => { calls.push(`write ${to}`); throw failure; },
        close: async () => { calls.push(`close ${to}`); throw failure; },
        abort: async () => { calls.push(`abort ${to}`); },
      });
      const failing: ShuffleStorage = {
        description: 'a failing stub',
        writer: (id) => writer(id.to),
        read: () => expect.fail('not read'),
        discard: async () => {},
        close: async () => {},
      };
      const grants: unknown[] = [];
      const errors: unknown[] = [];
      const outputs = new StoredOutputs(failing, task(0), (...grant) => grants.push(grant), (error) => errors.push(error));
      const subject = outputs.subject(EDGE, 0);
      outputs.subject(EDGE, 1);
      outputs.open(1);
      grants.length = 0;
      outputs.write(subject, encodeFrame(frame(0, 0, [1])));
      await until(() => errors.length === 1, 'the write failed');
      expect(errors[0]).to.equal(failure);
      expect(grants).to.deep.equal([]);

      await expect(outputs.close()).to.be.rejectedWith(CloudflinkError, /subtask 1 of 'Combine words' to a failing stub failed: disk full/)
        .and.eventually.have.property('code', 'TASK_FAILED');
      expect(calls.filter((c) => c.startsWith('abort')).sort()).to.deep.equal(['abort 0', 'abort 1']);
    });
  });

  describe('StoredInputs', () => {
    /** Five frames from producer subtask 0 to consumer subtask 0, the last one the end of input. */
    const five = (): Frame[] => [0, 1, 2, 3, 4].map((n) => frame(0, n, [n], n === 4));

    it('never hands over more frames than the credit granted', async () => {
      await produce(0, { 0: five() });
      const { inputs, arrived, errors } = consumer(0);
      inputs.add(EDGE, 0, 0);
      await sleep(20);
      expect(arrived, 'nothing without credit').to.deep.equal([]);

      inputs.grant(EDGE, 0, 2);
      await until(() => arrived.length === 2, 'two frames arrived');
      await sleep(50);
      expect(arrived.map((a) => a.frame.n), 'still two after waiting').to.deep.equal([0, 1]);

      inputs.grant(EDGE, 0, 3);
      await until(() => arrived.length === 5, 'the rest arrived');
      expect(arrived.map((a) => a.frame)).to.deep.equal(five());

      inputs.grant(EDGE, 0, 5);
      await sleep(20);
      expect(arrived, 'nothing after the end of input').to.have.length(5);
      expect(errors).to.deep.equal([]);
    });

    it('adds up grants made while a read is under way', async () => {
      await produce(0, { 0: five() });
      const { inputs, arrived, errors } = consumer(0);
      inputs.add(EDGE, 0, 0);
      inputs.grant(EDGE, 0, 1);
      inputs.grant(EDGE, 0, 1);
      inputs.grant(EDGE, 0, 1);
      await until(() => arrived.length === 3, 'three frames arrived');
      await sleep(30);
      expect(arrived.map((a) => a.frame.n)).to.deep.equal([0, 1, 2]);
      expect(errors).to.deep.equal([]);
    });

    it('fails, naming the edge and the producer subtask, on a partition that ends without an end of input', async () => {
      await produce(1, { 0: [frame(1, 0, ['a']), frame(1, 1, ['b'])] });
      const { inputs, arrived, errors } = consumer(0);
      inputs.add(EDGE, 1, 0);
      inputs.grant(EDGE, 0, 10); // another channel's credit changes nothing
      inputs.grant(EDGE, 1, 10);
      await until(() => errors.length > 0, 'the read failed');
      expect(arrived.map((a) => a.frame.r)).to.deep.equal([['a'], ['b']]);
      expect(errors).to.have.length(1);
      const error = errors[0] as CloudflinkError;
      expect(error).to.be.instanceOf(CloudflinkError);
      expect(error.code).to.equal('SHUFFLE_MISSING');
      expect(error.message).to.include(`subtask 2 on edge ${EDGE}`).and.include(storage.description);
    });

    it('fails with SHUFFLE_MISSING on a partition that is not there, and delivers nothing', async () => {
      await produce(0, { 1: [frame(0, 0, ['other'], true)] });
      const { inputs, arrived, errors } = consumer(0);
      inputs.add(EDGE, 0, 0);
      inputs.grant(EDGE, 0, 4);
      await until(() => errors.length > 0, 'the read failed');
      expect(arrived).to.deep.equal([]);
      expect(errors).to.have.length(1);
      expect(errors[0]).to.be.instanceOf(CloudflinkError).with.property('code', 'SHUFFLE_MISSING');
      expect((errors[0] as Error).message).to.include(`edge ${EDGE}`);
    });

    it('delivers nothing more once closed, and reports no error for it', async () => {
      await produce(0, { 0: five() });
      const { inputs, arrived, errors } = consumer(0);
      inputs.add(EDGE, 0, 0);
      inputs.grant(EDGE, 0, 1);
      await until(() => arrived.length === 1, 'one frame arrived');
      inputs.close();
      inputs.grant(EDGE, 0, 10);
      await sleep(30);
      expect(arrived).to.have.length(1);
      expect(errors).to.deep.equal([]);
    });

    it('drops the frame being read when closed mid-read', async () => {
      await produce(0, { 0: five() });
      const { inputs, arrived, errors } = consumer(0);
      inputs.add(EDGE, 0, 0);
      inputs.grant(EDGE, 0, 10); // the read is now waiting on the file
      inputs.close();
      await sleep(30);
      expect(arrived).to.deep.equal([]);
      expect(errors).to.deep.equal([]);
    });

    it('reports no error for a missing partition once closed', async () => {
      const { inputs, arrived, errors } = consumer(0);
      inputs.add(EDGE, 0, 0);
      inputs.grant(EDGE, 0, 1);
      inputs.close();
      await sleep(30);
      expect(arrived).to.deep.equal([]);
      expect(errors).to.deep.equal([]);
    });
  });
});
