import { expect } from 'chai';
import type { JobResult } from '../../../lib/client/index.ts';
import { Progress } from '../../../lib/cli/progress.ts';
import type { JobDescriptor } from '../../../lib/descriptor/types.ts';
import type { LifecycleEvent } from '../../../lib/events/types.ts';

const batchJob: JobDescriptor = {
  apiVersion: 'cloudflink/v1', name: 'wc', mode: 'batch', parallelism: 2,
  vertices: [
    { id: 'nums', operator: 'source.generator', count: 1000 },
    { id: 'pairs', operator: 'map', fn: '(n) => ({ k: n % 7, n })' },
    { id: 'combine', operator: 'batch.combine', key: { field: 'k' }, aggregations: [{ kind: 'sum', field: 'n' }] },
    { id: 'sums', operator: 'batch.aggregate', aggregations: [{ kind: 'sum', field: 'n' }] },
    { id: 'sorted', operator: 'batch.sortPartition', by: [{ key: { field: 'n' } }], parallelism: 1 },
    { id: 'out', operator: 'sink.collect', parallelism: 1 },
  ],
  edges: [
    { from: 'nums', to: 'pairs' }, { from: 'pairs', to: 'combine' }, { from: 'combine', to: 'sums', partition: 'hash', key: { field: 'k' } },
    { from: 'sums', to: 'sorted' }, { from: 'sorted', to: 'out' },
  ],
};

const status = (read: number): JobResult => ({
  jobId: 'j', name: 'wc', state: 'RUNNING', submittedAt: '', collected: {},
  vertices: batchJob.vertices.map((v) => ({
    vertexId: v.id, name: v.id, parallelism: v.parallelism ?? 2, recordsIn: 0, recordsOut: v.id === 'nums' ? read : 0,
    framesIn: 0, framesLost: 0, framesOut: 0, busyMs: 0, backpressuredMs: 0, queuedFrames: 0, peakQueuedFrames: 0, peakWaitingFrames: 0,
  })),
});

const finished = (vertexId: string, subtask: number): LifecycleEvent =>
  ({ type: 'task.state', jobId: 'j', vertexId, vertexName: vertexId, subtask, parallelism: 2, from: 'RUNNING', to: 'FINISHED', at: '' }) as LifecycleEvent;

describe('the progress line of cloudflink run', () => {
  it('says which stage of a batch job runs: a blocking operator ends one, a combiner does not', () => {
    const progress = new Progress(batchJob);
    // A blocking operator takes its input in the stage before it, and emits in the next.
    expect(progress.line(status(250))).to.match(/^\[RUNNING\] stage 1 of 3: nums, pairs, combine, sums · read 250 records \(25 %\) · nums in 0 out 250/);
    for (const id of ['nums', 'pairs', 'combine']) for (const subtask of [0, 1]) progress.onEvent(finished(id, subtask));
    expect(progress.line(status(1000)), 'until the aggregate emitted all').to.match(/^\[RUNNING\] stage 1 of 3/);
    for (const subtask of [0, 1]) progress.onEvent(finished('sums', subtask));
    expect(progress.line(status(1000))).to.match(/^\[RUNNING\] stage 2 of 3: sorted · read 1,000 records \(100 %\)/);
    progress.onEvent({
      type: 'job.failover', jobId: 'j', jobName: 'wc', cause: 'tm lost', delayMs: 0, at: '',
      tasks: [{ vertexId: 'sums', vertexName: 'sums', subtask: 1, parallelism: 2 }],
    });
    expect(progress.line(status(1000)), 'a region that fails over runs again').to.match(/stage 1 of 3/);
    progress.onEvent(finished('sums', 1));
    progress.onEvent({ type: 'job.state', jobId: 'j', name: 'wc', from: 'RUNNING', to: 'RESTARTING', at: '' } as unknown as LifecycleEvent);
    expect(progress.line(status(0)), 'a restart runs every stage again').to.match(/stage 1 of 3/);
  });

  it('has no percent when a source is a file, and no stages for a streaming job', () => {
    const files: JobDescriptor = { ...batchJob, vertices: batchJob.vertices.map((v) => (v.id === 'nums' ? { id: 'nums', operator: 'source.textFile', path: 'x' } : v)) };
    expect(new Progress(files).line(status(5))).to.match(/read 5 records · /);
    expect(new Progress({ ...batchJob, mode: 'streaming' }).line(status(5))).to.match(/^\[RUNNING\] nums in 0 out 5 \| pairs/);
  });
});
