import { expect } from 'chai';
import { formatEvent } from '../../../lib/events/format.ts';
import type { LifecycleEvent } from '../../../lib/events/types.ts';

const at = '2024-05-06T07:08:09.123Z';
const time = '07:08:09.123';

// One of each kind; the mapped type makes the compiler flag a kind that was added later.
// (An intersection, not Extract: the TM events share one interface with a union `type`.)
const EVENTS: { [K in LifecycleEvent['type']]: LifecycleEvent & { type: K } } = {
  'job.state': { type: 'job.state', jobId: 'j1', jobName: 'wordcount', from: 'CREATED', to: 'RUNNING', at },
  'job.rejected': {
    type: 'job.rejected', jobId: 'j2', jobName: 'broken', at,
    issues: [{ path: '/vertices/0/fn', message: 'is not a function' }, { path: '', message: 'no sink' }],
  },
  'job.failover': {
    type: 'job.failover', jobId: 'j1', jobName: 'sort', cause: 'task manager tm-7 lost: no heartbeat for 5000 ms', at,
    tasks: [{ vertexId: 'v3', vertexName: 'sortPartition', subtask: 1, parallelism: 4 }, { vertexId: 'v4', vertexName: 'sink', subtask: 1, parallelism: 4 }],
    delayMs: 1000,
  },
  'task.state': {
    type: 'task.state', jobId: 'j1', vertexId: 'v1', vertexName: 'tokenize', subtask: 1, parallelism: 4,
    from: 'DEPLOYING', to: 'INITIALIZING', tmId: 'tm-7', at,
  },
  'tm.registered': { type: 'tm.registered', tmId: 'tm-7', slots: 4, at },
  'tm.lost': { type: 'tm.lost', tmId: 'tm-7', slots: 4, cause: 'missed 3 heartbeats', at },
  'tm.refused': { type: 'tm.refused', tmId: 'tm-11', slots: 2, cause: 'the cluster already has 10 task managers', at },
  'checkpoint.triggered': { type: 'checkpoint.triggered', jobId: 'j1', checkpointId: 7, savepoint: false, at },
  'checkpoint.completed': {
    type: 'checkpoint.completed', jobId: 'j1', checkpointId: 7, savepoint: false,
    size: 20480, durationMs: 35, alignmentMs: 4, pointer: '/var/cloudflink/checkpoints/j1/chk-7', at,
  },
  'checkpoint.failed': {
    type: 'checkpoint.failed', jobId: 'j1', checkpointId: 8, savepoint: false,
    reason: 'timed out after 60000 ms with 3 of 4 tasks acknowledged', at,
  },
};

const ALL = Object.values(EVENTS) as LifecycleEvent[];

describe('formatEvent', () => {
  it('gives one line per event of every kind, starting with the time of day', () => {
    for (const event of ALL) {
      const line = formatEvent(event);
      expect(line, event.type).to.not.include('\n');
      expect(line.startsWith(`${time}  `), line).to.equal(true);
    }
  });

  it('formats a job state change', () => {
    expect(formatEvent(EVENTS['job.state'])).to.equal(`${time}  job  j1 wordcount: CREATED → RUNNING`);
    expect(formatEvent({ ...EVENTS['job.state'], from: null, to: 'CREATED' })).to.equal(`${time}  job  j1 wordcount: ∅ → CREATED`);
  });

  it('formats a region failover with the tasks that re-run, the delay and the cause', () => {
    expect(formatEvent(EVENTS['job.failover'])).to.equal(
      `${time}  job  j1 sort: re-running sortPartition (2/4), sink (2/4) in 1000 ms  (task manager tm-7 lost: no heartbeat for 5000 ms)`);
  });

  it('formats a rejected job with every issue, an empty path shown as /', () => {
    expect(formatEvent(EVENTS['job.rejected']))
      .to.equal(`${time}  job  j2 broken REJECTED: /vertices/0/fn: is not a function; /: no sink`);
  });

  it('formats a task state change with its subtask counted from 1 and its TM', () => {
    expect(formatEvent(EVENTS['task.state'])).to.equal(`${time}  task j1 tokenize (2/4) @tm-7: DEPLOYING → INITIALIZING`);
    const { tmId: _, ...unplaced } = EVENTS['task.state'];
    expect(formatEvent({ ...unplaced, subtask: 0, from: null, to: 'CREATED' })).to.equal(`${time}  task j1 tokenize (1/4): ∅ → CREATED`);
  });

  it('formats task manager events, with slot or slots', () => {
    expect(formatEvent(EVENTS['tm.registered'])).to.equal(`${time}  tm   tm-7 registered with 4 slots`);
    expect(formatEvent({ ...EVENTS['tm.registered'], slots: 1 })).to.equal(`${time}  tm   tm-7 registered with 1 slot`);
    expect(formatEvent(EVENTS['tm.lost'])).to.equal(`${time}  tm   tm-7 LOST  (missed 3 heartbeats)`);
    expect(formatEvent(EVENTS['tm.refused'])).to.equal(`${time}  tm   tm-11 REFUSED  (the cluster already has 10 task managers)`);
  });

  it('formats checkpoint events: triggered, completed with its size, duration, alignment and pointer, failed with its reason', () => {
    expect(formatEvent(EVENTS['checkpoint.triggered'])).to.equal(`${time}  chk  j1 checkpoint 7 triggered`);
    expect(formatEvent(EVENTS['checkpoint.completed']))
      .to.equal(`${time}  chk  j1 checkpoint 7 completed: 20480 bytes in 35 ms (alignment 4 ms) at /var/cloudflink/checkpoints/j1/chk-7`);
    expect(formatEvent(EVENTS['checkpoint.failed']))
      .to.equal(`${time}  chk  j1 checkpoint 8 FAILED: timed out after 60000 ms with 3 of 4 tasks acknowledged`);
  });

  it('says savepoint for a savepoint, and keeps a JetStream pointer as it is', () => {
    expect(formatEvent({ ...EVENTS['checkpoint.triggered'], savepoint: true })).to.equal(`${time}  chk  j1 savepoint 7 triggered`);
    expect(formatEvent({ ...EVENTS['checkpoint.completed'], savepoint: true, pointer: 'jetstream://cf-default/j1/chk-7' }))
      .to.equal(`${time}  chk  j1 savepoint 7 completed: 20480 bytes in 35 ms (alignment 4 ms) at jetstream://cf-default/j1/chk-7`);
    expect(formatEvent({ ...EVENTS['checkpoint.failed'], savepoint: true })).to.match(/ {2}chk {2}j1 savepoint 8 FAILED: timed out/);
  });

  it('keeps a checkpoint failure on one line when its reason has several', () => {
    const reason = 'writing its metadata to /data/chk failed: EACCES\n  at open\r\n  at write';
    const line = formatEvent({ ...EVENTS['checkpoint.failed'], reason });
    expect(line).to.not.match(/[\r\n]/);
    expect(line).to.include('FAILED: writing its metadata to /data/chk failed: EACCES');
  });

  it('includes the cause when there is one, and nothing when there is none', () => {
    const cause = 'map[2] threw: boom';
    expect(formatEvent({ ...EVENTS['job.state'], to: 'FAILING', cause })).to.equal(`${time}  job  j1 wordcount: CREATED → FAILING  (${cause})`);
    expect(formatEvent({ ...EVENTS['task.state'], to: 'FAILED', cause })).to.match(/: DEPLOYING → FAILED {2}\(map\[2\] threw: boom\)$/);
    for (const event of [EVENTS['job.state'], EVENTS['task.state']]) expect(formatEvent(event)).to.not.include('  (');
    expect(formatEvent({ ...EVENTS['tm.lost'], cause: undefined })).to.equal(`${time}  tm   tm-7 LOST`);
    expect(formatEvent({ ...EVENTS['job.state'], cause: '' })).to.equal(`${time}  job  j1 wordcount: CREATED → RUNNING`);
  });

  it('keeps an event on one line when its cause has several', () => {
    // Causes carry user error messages, which may span lines; `cloudflink events` prints one event a line.
    const cause = 'map failed on record #3: bad input\n  at line 1\n  at line 2';
    for (const event of [
      { ...EVENTS['job.state'], to: 'FAILED', cause } as const,
      { ...EVENTS['task.state'], to: 'FAILED', cause } as const,
      { ...EVENTS['tm.lost'], cause },
    ]) {
      const line = formatEvent(event);
      expect(line, event.type).to.not.match(/[\r\n]/);
      expect(line).to.include('map failed on record #3: bad input');
    }
  });
});
