import { expect } from 'chai';
import { JobHandle, StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import type { JobClient, JobResult, JobSummary } from '../../../lib/client/types.ts';
import type { JobDescriptor } from '../../../lib/descriptor/types.ts';
import { CloudflinkError, DescriptorInvalidError } from '../../../lib/errors/index.ts';
import type { LifecycleEvent } from '../../../lib/events/types.ts';

/** Records what it is asked; enough for a builder's unit spec. */
class FakeJobClient implements JobClient {
  readonly submitted: JobDescriptor[] = [];
  readonly calls: string[] = [];
  readonly result_: JobResult = {
    jobId: 'job-1', name: 'numbers', state: 'FINISHED', submittedAt: '2024-01-01T00:00:00.000Z',
    vertices: [], collected: { 'sink-collect-3': [2, 4] },
  };
  readonly events_: LifecycleEvent[] = [
    { type: 'job.state', jobId: 'job-1', jobName: 'numbers', from: null, to: 'CREATED', at: '2024-01-01T00:00:00.000Z' },
    { type: 'job.state', jobId: 'job-1', jobName: 'numbers', from: 'CREATED', to: 'FINISHED', at: '2024-01-01T00:00:01.000Z' },
  ];

  constructor(private readonly rejectWith?: Error) {}

  async submit(descriptor: JobDescriptor): Promise<string> {
    if (this.rejectWith) throw this.rejectWith;
    this.submitted.push(descriptor);
    return 'job-1';
  }

  async *events(jobId: string): AsyncIterable<LifecycleEvent> {
    this.calls.push(`events ${jobId}`);
    yield* this.events_;
  }

  async result(jobId: string): Promise<JobResult> {
    this.calls.push(`result ${jobId}`);
    return this.result_;
  }

  async status(jobId: string): Promise<JobResult> {
    this.calls.push(`status ${jobId}`);
    return { ...this.result_, state: 'RUNNING' };
  }

  async cancel(jobId: string): Promise<void> {
    this.calls.push(`cancel ${jobId}`);
  }

  async list(): Promise<JobSummary[]> {
    return [];
  }
}

describe('execute() and the job handle', () => {
  it('submits the descriptor through the client and returns a handle with the job id', async () => {
    const client = new FakeJobClient();
    const env = new StreamExecutionEnvironment(client, { parallelism: 2 });
    const sink = env.fromElements(1, 2).map((x) => 2 * x).collect();

    const handle = await env.execute('numbers');
    expect(handle).to.be.instanceOf(JobHandle);
    expect(handle.jobId).to.equal('job-1');
    expect(handle.jobName).to.equal('numbers');
    expect(client.submitted).to.deep.equal([env.getDescriptor('numbers')]);
    expect((await handle.result()).collected[sink.id]).to.deep.equal([2, 4]);
  });

  it('delegates events, result, status and cancel to the client, for its own job', async () => {
    const client = new FakeJobClient();
    const env = new StreamExecutionEnvironment(client);
    env.generate(3).print();
    const handle = await env.execute();
    expect(client.submitted[0]!.name).to.equal('job');

    const seen: LifecycleEvent[] = [];
    for await (const event of handle.events()) seen.push(event);
    expect(seen).to.deep.equal(client.events_);
    expect((await handle.result()).state).to.equal('FINISHED');
    expect((await handle.status()).state).to.equal('RUNNING');
    await handle.cancel();
    expect(client.calls).to.deep.equal(['events job-1', 'result job-1', 'status job-1', 'cancel job-1']);
  });

  it('fails clearly when the environment has no client', async () => {
    const env = new StreamExecutionEnvironment();
    env.fromElements(1).print();
    await expect(env.execute()).to.be.rejectedWith(CloudflinkError, /no JobClient.*getDescriptor\(\)/s);
  });

  it('passes the Job Manager\'s rejection through', async () => {
    const invalid = new DescriptorInvalidError([{ path: '/vertices/1/fn', message: 'does not compile' }]);
    const env = new StreamExecutionEnvironment(new FakeJobClient(invalid));
    env.fromElements(1).print();
    await expect(env.execute()).to.be.rejectedWith(DescriptorInvalidError, /vertices\/1\/fn/);
  });

  it('does not submit a job that cannot be described', async () => {
    const client = new FakeJobClient();
    await expect(new StreamExecutionEnvironment(client).execute()).to.be.rejectedWith(CloudflinkError, /no operators/);
    expect(client.submitted).to.deep.equal([]);
  });
});
