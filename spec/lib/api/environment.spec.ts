import { expect } from 'chai';
import { StreamExecutionEnvironment } from '../../../lib/api/index.ts';
import { validateDescriptor } from '../../../lib/descriptor/index.ts';
import { DESCRIPTOR_API_VERSION } from '../../../lib/descriptor/types.ts';
import { CloudflinkError } from '../../../lib/errors/index.ts';

function revive(source: unknown, params: Record<string, unknown> = {}): (...args: any[]) => any {
  return new Function('params', 'return (' + (source as string) + ')')(params);
}

describe('StreamExecutionEnvironment', () => {
  it('builds the wordcount descriptor: ids, operators, edges with partitions and keys, parallelism', () => {
    const env = new StreamExecutionEnvironment(undefined, { parallelism: 2, maxParallelism: 64 });
    const tokenize = (line: string) => line.toLowerCase().split(/\W+/).filter((w) => w !== '').map((w) => [w, 1] as [string, number]);
    env.readTextFile('/data/in.txt').flatMap(tokenize).keyBy(0).sum(1).writeAsText('/data/out');

    expect(env.getDescriptor('wordcount')).to.deep.equal({
      apiVersion: DESCRIPTOR_API_VERSION,
      name: 'wordcount',
      mode: 'streaming',
      parallelism: 2,
      maxParallelism: 64,
      params: {},
      vertices: [
        { id: 'source-textFile-1', name: 'source.textFile', operator: 'source.textFile', path: '/data/in.txt' },
        { id: 'flatMap-2', name: 'tokenize', operator: 'flatMap', fn: tokenize.toString() },
        { id: 'sum-3', name: 'sum', operator: 'sum', field: 1 },
        { id: 'sink-textFile-4', name: 'sink.textFile', operator: 'sink.textFile', path: '/data/out' },
      ],
      edges: [
        { from: 'source-textFile-1', to: 'flatMap-2', partition: 'forward' },
        { from: 'flatMap-2', to: 'sum-3', partition: 'hash', key: { field: 0 } },
        { from: 'sum-3', to: 'sink-textFile-4', partition: 'forward' },
      ],
    });
    const flatMap = env.getDescriptor().vertices[1] as { fn: string };
    expect(revive(flatMap.fn)('To be, or not')).to.deep.equal([['to', 1], ['be', 1], ['or', 1], ['not', 1]]);
  });

  it('builds descriptors the Job Manager accepts as they are', () => {
    const env = new StreamExecutionEnvironment(undefined, { parallelism: 2, params: { k: 3 } });
    const udfs = { scale(x: string) { function times(y: number) { return y * (params as { k: number }).k; } return times(Number(x)); } };
    const scaled = env.readTextFile('/in').map(udfs.scale).setParallelism(3);
    scaled.keyBy((x) => x % 2).reduce((a, b) => a + b).print();
    scaled.broadcast().filter(function big(x) { return x > 1; }).collect();
    env.fromElements(['a', 1]).keyBy(0).sum(1).writeAsText('/out');
    const validation = validateDescriptor(JSON.parse(JSON.stringify(env.getDescriptor('checked'))));
    expect(validation.ok ? [] : validation.issues).to.deep.equal([]);
  });

  it('leaves parallelism to the Job Manager\'s default when none is set, and defaults the job name', () => {
    const env = new StreamExecutionEnvironment();
    env.fromElements(1, 2, 3).print();
    const descriptor = env.getDescriptor();
    expect(descriptor.name).to.equal('job');
    expect(descriptor).not.to.have.property('parallelism');
    expect(descriptor).not.to.have.property('maxParallelism');
    expect(descriptor.edges).to.deep.equal([{ from: 'source-elements-1', to: 'sink-print-2', partition: 'forward' }]);
  });

  it('has a source per kind: elements, a collection, a text file, a generator', () => {
    const env = new StreamExecutionEnvironment();
    const list = ['a', 'b'];
    env.fromElements({ n: 1 }, { n: 2 });
    env.fromCollection(list);
    env.fromCollection(new Set([3, 4]));
    env.readTextFile('in.txt');
    env.generate(5);
    env.generate(3, (i) => ({ id: i, square: i * i }));
    list.push('c'); // a snapshot is taken when the source is built

    const vertices = env.getDescriptor().vertices;
    expect(vertices.map((v) => v.id)).to.deep.equal([
      'source-elements-1', 'source-elements-2', 'source-elements-3', 'source-textFile-4', 'source-generator-5', 'source-generator-6',
    ]);
    expect(vertices[0]).to.include({ operator: 'source.elements' }).and.to.have.deep.property('elements', [{ n: 1 }, { n: 2 }]);
    expect(vertices[1]).to.have.deep.property('elements', ['a', 'b']);
    expect(vertices[2]).to.have.deep.property('elements', [3, 4]);
    expect(vertices[3]).to.include({ operator: 'source.textFile', path: 'in.txt' });
    expect(vertices[4]).to.deep.equal({ id: 'source-generator-5', name: 'source.generator', operator: 'source.generator', count: 5 });
    const generator = vertices[5] as { count: number; fn: string };
    expect(generator.count).to.equal(3);
    expect(revive(generator.fn)(4)).to.deep.equal({ id: 4, square: 16 });
  });

  it('ships job params, visible to every function as params', () => {
    const env = new StreamExecutionEnvironment(undefined, { params: { threshold: 10 } });
    env.params.unit = 'ms';
    env.fromElements(5, 15).filter((x) => x > (params as { threshold: number }).threshold).print();
    const descriptor = env.getDescriptor();
    expect(descriptor.params).to.deep.equal({ threshold: 10, unit: 'ms' });
    const filter = revive(descriptor.vertices[1]!.operator === 'filter' ? descriptor.vertices[1]!.fn : '', descriptor.params);
    expect([5, 15].filter(filter)).to.deep.equal([15]);
  });

  it('rejects settings that are not positive integers, and bad sources', () => {
    const env = new StreamExecutionEnvironment();
    expect(() => env.setParallelism(0)).to.throw(CloudflinkError, /setParallelism\(\).*positive integer/);
    expect(() => env.setMaxParallelism(1.5)).to.throw(CloudflinkError, /setMaxParallelism\(\).*positive integer/);
    expect(() => new StreamExecutionEnvironment(undefined, { parallelism: -1 })).to.throw(CloudflinkError);
    expect(() => env.generate(-1)).to.throw(CloudflinkError, /non-negative integer/);
    expect(() => env.readTextFile('')).to.throw(CloudflinkError, /non-empty path/);
    expect(() => env.fromCollection(42 as unknown as number[])).to.throw(CloudflinkError, /iterable/);
  });

  describe('checkpointing and the restart strategy', () => {
    function envWithJob(): StreamExecutionEnvironment {
      const env = new StreamExecutionEnvironment();
      env.fromElements(1, 2, 3).print();
      return env;
    }

    it('leaves both out by default: the Job Manager applies its defaults', () => {
      const env = envWithJob();
      const descriptor = env.getDescriptor();
      expect(descriptor).not.to.have.property('checkpointing');
      expect(descriptor).not.to.have.property('restartStrategy');
      const config = env.getCheckpointConfig();
      expect(config.isCheckpointingEnabled()).to.equal(false);
      expect(config.getCheckpointInterval()).to.equal(-1);
      expect(env.getRestartStrategy()).to.equal(undefined);
    });

    it('enableCheckpointing(interval, mode) emits the interval and the mode, exactly-once by default', () => {
      expect(envWithJob().enableCheckpointing(500).getDescriptor().checkpointing).to.deep.equal({ intervalMs: 500, mode: 'exactly-once' });
      expect(envWithJob().enableCheckpointing(100, 'at-least-once').getDescriptor().checkpointing)
        .to.deep.equal({ intervalMs: 100, mode: 'at-least-once' });
    });

    it("takes Flink's CheckpointConfig setters, and emits what was set", () => {
      const env = envWithJob().enableCheckpointing(1000);
      const config = env.getCheckpointConfig();
      expect([config.getCheckpointTimeout(), config.getMinPauseBetweenCheckpoints(), config.getTolerableCheckpointFailureNumber()])
        .to.deep.equal([60_000, 0, 0]);
      config.setCheckpointTimeout(5000).setMinPauseBetweenCheckpoints(200).setTolerableCheckpointFailureNumber(2);
      expect(config.isCheckpointingEnabled()).to.equal(true);
      expect(config.getCheckpointInterval()).to.equal(1000);
      expect(env.getDescriptor().checkpointing).to.deep.equal({
        intervalMs: 1000, mode: 'exactly-once', timeoutMs: 5000, minPauseMs: 200, tolerableFailures: 2,
      });
    });

    it('emits the restart strategy set, a copy of it', () => {
      const env = envWithJob();
      const strategy = { type: 'fixed-delay' as const, attempts: 3, delayMs: 1000 };
      env.setRestartStrategy(strategy);
      strategy.attempts = 99;
      expect(env.getDescriptor().restartStrategy).to.deep.equal({ type: 'fixed-delay', attempts: 3, delayMs: 1000 });
      expect(env.getRestartStrategy()).to.deep.equal({ type: 'fixed-delay', attempts: 3, delayMs: 1000 });
    });

    it('builds descriptors the Job Manager accepts and resolves as set', () => {
      const env = envWithJob().enableCheckpointing(250, 'at-least-once').setRestartStrategy({
        type: 'exponential-delay', initialDelayMs: 100, maxDelayMs: 10_000, multiplier: 2, jitter: 0.1, resetAfterMs: 60_000,
      });
      env.getCheckpointConfig().setCheckpointTimeout(3000);
      const validation = validateDescriptor(JSON.parse(JSON.stringify(env.getDescriptor('checkpointed'))));
      if (!validation.ok) expect.fail(JSON.stringify(validation.issues));
      expect(validation.job.checkpointing).to.deep.equal({
        enabled: true, intervalMs: 250, timeoutMs: 3000, minPauseMs: 0, mode: 'at-least-once', tolerableFailures: 0,
      });
      expect(validation.job.restartStrategy).to.include({ type: 'exponential-delay', maxDelayMs: 10_000 });

      const defaults = validateDescriptor(envWithJob().enableCheckpointing(100).getDescriptor());
      expect(defaults.ok && defaults.job.restartStrategy).to.deep.equal({ type: 'fixed-delay', attempts: 2147483647, delayMs: 1000 });
    });

    it('rejects settings out of range, with the method that was called', () => {
      const env = envWithJob();
      expect(() => env.enableCheckpointing(5)).to.throw(CloudflinkError, /setCheckpointInterval\(\).*at least 10, got 5/);
      expect(() => env.enableCheckpointing(100, 'twice' as never)).to.throw(CloudflinkError, /unknown mode "twice"/);
      expect(() => env.getCheckpointConfig().setCheckpointTimeout(1.5)).to.throw(CloudflinkError, /setCheckpointTimeout\(\)/);
      expect(() => env.getCheckpointConfig().setMinPauseBetweenCheckpoints(-1)).to.throw(CloudflinkError, /setMinPauseBetweenCheckpoints\(\)/);
      expect(() => env.getCheckpointConfig().setTolerableCheckpointFailureNumber(-1)).to.throw(CloudflinkError, /non-negative integer/);
      expect(() => env.setRestartStrategy({ type: 'fixed' } as never)).to.throw(CloudflinkError, /unknown strategy type "fixed".*fixed-delay/);
      expect(() => env.setRestartStrategy({ type: 'fixed-delay', attempts: -3, delayMs: 10 }))
        .to.throw(CloudflinkError, /attempts must be a non-negative number, got -3/);
    });
  });

  it('refuses to describe a job with no operators', () => {
    expect(() => new StreamExecutionEnvironment().getDescriptor()).to.throw(CloudflinkError, /no operators/);
  });
});

declare const params: unknown;
