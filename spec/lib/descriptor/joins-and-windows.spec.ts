import { expect } from 'chai';
import {
  validateDescriptor, type DescriptorIssue, type EdgeDescriptor, type JobDescriptor, type OperatorName, type ResolvedJob, type VertexDescriptor,
} from '../../../lib/descriptor/index.ts';
import { hasSideOutputs, isKeyed, isOptionallyKeyed, isTwoInput } from '../../../lib/descriptor/graph.ts';

// Each fixture is a minimal job: timestamped sources → the operator under test ('op') → sink.collect.

type Input = Omit<EdgeDescriptor, 'from' | 'to'>;

const byUser: Input = { partition: 'hash', key: { field: 'user' } };

function timed(id: string, elements: unknown[]): VertexDescriptor {
  return { id, operator: 'source.elements', elements, watermarks: { timestamp: { field: 'at' }, outOfOrdernessMs: 5 } };
}

const clicks = (): VertexDescriptor => timed('clicks', [{ user: 'a', page: '/', at: 1 }, { user: 'b', page: '/x', at: 7 }]);
const profiles = (): VertexDescriptor => timed('profiles', [{ user: 'a', country: 'NL', at: 2 }]);

/** clicks → op → out: op is /vertices/1, its input /edges/0, its output /edges/1. */
function oneInput(op: VertexDescriptor, input: Input = byUser): JobDescriptor {
  return {
    apiVersion: 'cloudflink/v1', name: op.operator, parallelism: 2,
    vertices: [clicks(), op, { id: 'out', operator: 'sink.collect' }],
    edges: [{ from: 'clicks', to: op.id, ...input }, { from: op.id, to: 'out' }],
  };
}

/** clicks (input 1) and profiles (input 2) → op → out: op is /vertices/2, its inputs /edges/0 and /edges/1. */
function twoInputs(op: VertexDescriptor, first: Input = byUser, second: Input = byUser): JobDescriptor {
  return {
    apiVersion: 'cloudflink/v1', name: op.operator, parallelism: 2,
    vertices: [clicks(), profiles(), op, { id: 'out', operator: 'sink.collect' }],
    edges: [
      { from: 'clicks', to: op.id, ...first, input: 1 },
      { from: 'profiles', to: op.id, ...second, input: 2 },
      { from: op.id, to: 'out' },
    ],
  };
}

/** The vertex 'op': the defaults overridden by `fields`, where a field given as undefined is left out. */
function op(defaults: object, fields: object): VertexDescriptor {
  return Object.fromEntries(Object.entries({ id: 'op', ...defaults, ...fields }).filter(([, v]) => v !== undefined)) as unknown as VertexDescriptor;
}

const tumbling = { type: 'tumbling', sizeMs: 1000 } as const;
const WINDOW_FUNCTIONS = ['reduce', 'aggregate', 'process', 'distinct', 'topN', 'sort'];
/** A tumbling window; with a reduce unless `fields` name one of the window functions. */
const window = (fields: object = {}) =>
  op({ operator: 'window', assigner: tumbling, ...(WINDOW_FUNCTIONS.some((f) => f in fields) ? {} : { reduce: '(a, b) => b' }) }, fields);
const windowJoin = (fields: object = {}) =>
  op({ operator: 'windowJoin', assigner: tumbling, join: '(c, p) => ({ ...c, country: p.country })' }, fields);
const intervalJoin = (fields: object = {}) => op({ operator: 'intervalJoin', lowerMs: -10, upperMs: 5, fn: '(c, p, ctx) => [[c.page, p.country]]' }, fields);
const broadcastProcess = (fields: object = {}) => op({ operator: 'broadcastProcess', fn1: '(c, ctx) => [c]', fn2: '(rule, ctx) => []' }, fields);
const broadcast: Input = { partition: 'broadcast' };

/** A job as loosely typed JSON, to break it in ways the types forbid. */
function broken(job: JobDescriptor, edit: (d: any) => void): unknown {
  edit(job);
  return job;
}

/** Adds a sink for op's side output `tag`, on /edges/<last>. */
function withSideOutput(job: JobDescriptor, tag = 'late'): JobDescriptor {
  job.vertices.push({ id: 'side', operator: 'sink.collect' });
  job.edges.push({ from: 'op', to: 'side', tag });
  return job;
}

function accepted(input: unknown): ResolvedJob {
  const result = validateDescriptor(input);
  if (!result.ok) return expect.fail(JSON.stringify(result.issues, null, 2));
  return result.job;
}

function issuesOf(input: unknown): DescriptorIssue[] {
  const result = validateDescriptor(input);
  if (result.ok) expect.fail('expected the descriptor to be rejected');
  return result.issues;
}

/** The one issue a descriptor has, at `path`, saying `message`; fails if there are more, so that no rule adds noise. */
function onlyIssue(input: unknown, path: string, message: RegExp): void {
  const issues = issuesOf(input);
  expect(issues, JSON.stringify(issues, null, 2)).to.have.length(1);
  expect(issues[0]!.path).to.equal(path);
  expect(issues[0]!.message).to.match(message);
}

const uncompilable = /^the user function does not compile: SyntaxError: /;
const unknownProperty = (operator: string, takes: string): RegExp => new RegExp(`^unknown property for operator '${operator}'; it takes: .*${takes}$`);

describe('windows, joins, broadcast state and event-time sort in a descriptor', () => {
  it('classifies the new operators', () => {
    const all = (operators: OperatorName[], is: (o: OperatorName) => boolean): boolean[] => operators.map(is);
    expect(all(['windowJoin', 'intervalJoin', 'broadcastProcess'], isTwoInput)).to.deep.equal([true, true, true]);
    expect(all(['window', 'eventTimeSort', 'process'], isTwoInput)).to.deep.equal([false, false, false]);
    expect(all(['windowJoin', 'intervalJoin'], isKeyed)).to.deep.equal([true, true]);
    expect(all(['window', 'process', 'broadcastProcess'], isKeyed)).to.deep.equal([false, false, false]);
    expect(all(['window', 'process', 'broadcastProcess'], isOptionallyKeyed)).to.deep.equal([true, true, true]);
    expect(all(['window', 'process', 'intervalJoin', 'broadcastProcess', 'eventTimeSort'], hasSideOutputs)).to.deep.equal([true, true, true, true, true]);
    expect(all(['map', 'windowJoin'], hasSideOutputs)).to.deep.equal([false, false]);
  });

  describe('window', () => {
    describe('a valid window', () => {
      it('resolves a keyed event-time window, keeping its assigner, trigger, evictor and late-data fields', () => {
        const job = accepted(withSideOutput(oneInput(window({
          assigner: { type: 'sliding', sizeMs: 1000, slideMs: 250, offsetMs: 10, time: 'event' },
          trigger: { type: 'count', count: 3, purge: true }, evictor: { type: 'count', count: 2 },
          process: '(elements, ctx) => [[ctx.key, ctx.window.start, elements.length]]', allowedLatenessMs: 100, lateTag: 'late',
        }))));
        expect(job.vertices[1]).to.deep.include({
          id: 'op', operator: 'window', parallelism: 2,
          assigner: { type: 'sliding', sizeMs: 1000, slideMs: 250, offsetMs: 10, time: 'event' },
          trigger: { type: 'count', count: 3, purge: true }, evictor: { type: 'count', count: 2 },
          process: '(elements, ctx) => [[ctx.key, ctx.window.start, elements.length]]', allowedLatenessMs: 100, lateTag: 'late',
        });
        expect(job.edges.map((e) => [e.id, e.partition, e.key, e.tag])).to.deep.equal([
          ['clicks->op', 'hash', { field: 'user' }, undefined], ['op->out', 'forward', undefined, undefined], ['op->side', 'forward', undefined, 'late'],
        ]);
      });

      const assigners = {
        tumbling: { type: 'tumbling', sizeMs: 1000, offsetMs: 0 },
        sliding: { type: 'sliding', sizeMs: 1000, slideMs: 500 },
        session: { type: 'session', gapMs: 300 },
        'tumbling on processing time': { type: 'tumbling', sizeMs: 1000, time: 'processing' },
        'session on processing time': { type: 'session', gapMs: 300, time: 'processing' },
      };
      for (const [name, assigner] of Object.entries(assigners)) {
        it(`accepts a ${name} assigner`, () => {
          expect(accepted(oneInput(window({ assigner, reduce: '(a, b) => b' }))).vertices[1]).to.deep.include({ assigner });
        });
      }

      it('accepts a global assigner with a count trigger', () => {
        const job = accepted(oneInput(window({ assigner: { type: 'global' }, trigger: { type: 'count', count: 10 }, reduce: '(a, b) => b' })));
        expect(job.vertices[1]).to.deep.include({ assigner: { type: 'global' }, trigger: { type: 'count', count: 10 } });
      });

      const functions = {
        reduce: { reduce: '(a, b) => ({ ...a, n: a.n + b.n })' },
        aggregate: { aggregate: { create: '() => 0', add: '(acc, c) => acc + 1', result: '(acc) => acc', merge: '(a, b) => a + b' } },
        process: { process: '(elements, ctx) => [elements.length]' },
        'distinct: true': { distinct: true },
        'distinct by a key': { distinct: { key: { fn: '(c) => c.page' } } },
        topN: { topN: { n: 3, by: { field: 'at' }, order: 'asc' } },
        'sort by event time': { sort: {} },
        'sort by a field, descending': { sort: { by: { field: 'page' }, order: 'desc' } },
      };
      for (const [name, fields] of Object.entries(functions)) {
        it(`accepts ${name} as its function, and resolves with it`, () => {
          expect(accepted(oneInput(window(fields))).vertices[1]).to.deep.include(fields);
        });
      }

      it('accepts an input that is not hash (windowAll) at parallelism 1, given on the window or by the job', () => {
        accepted(oneInput(window({ parallelism: 1 }), { partition: 'rebalance' }));
        accepted(broken(oneInput(window(), {}), (d) => { d.parallelism = 1; }));
      });
    });

    describe('its input', () => {
      it('rejects windowAll above parallelism 1, at the vertex, saying how to fix it', () => {
        onlyIssue(oneInput(window(), { partition: 'rebalance' }), '/vertices/1',
          /^'op' \(window\) is not keyed \(its input is 'rebalance'\), so one instance sees every record \(windowAll\): give it "parallelism": 1, or make its input a 'hash' edge with a key; its parallelism is 2$/);
        onlyIssue(oneInput(window(), {}), '/vertices/1', /its input is 'forward'.*its parallelism is 2$/);
      });

      it('takes one input edge', () => {
        onlyIssue(broken(oneInput(window()), (d) => { d.vertices.push(profiles()); d.edges.push({ from: 'profiles', to: 'op', ...byUser }); }),
          '/vertices/1', /^'op' \(window\) takes exactly one input edge \(union the streams first\); it has 2, from 'clicks', 'profiles'$/);
      });

      it('rejects an edge marked as input 1, as it has one input', () => {
        onlyIssue(oneInput(window(), { ...byUser, input: 1 }), '/edges/0/input', /^only an edge into a two-input operator \(.*windowJoin.*\) says which input it is; 'op' is window$/);
      });
    });

    describe('its function', () => {
      it('needs one of reduce, aggregate, process, distinct, topN, sort', () => {
        onlyIssue(oneInput(window({ reduce: undefined })), '/vertices/1', /^needs 'reduce' or 'aggregate' or 'process' or 'distinct' or 'topN' or 'sort'$/);
      });

      it('takes only one of them', () => {
        onlyIssue(oneInput(window({ reduce: '(a, b) => b', sort: {} })), '/vertices/1', /^takes 'reduce' or .* or 'sort', not both$/);
        onlyIssue(oneInput(window({ process: '(els) => els', distinct: true })), '/vertices/1', /not both$/);
      });

      const bad = '(a, b) => { return [a; }';
      const uncompiled = {
        '/vertices/1/reduce': { reduce: bad },
        '/vertices/1/process': { process: bad },
        '/vertices/1/aggregate/add': { aggregate: { create: '() => 0', add: bad, result: '(acc) => acc' } },
        '/vertices/1/topN/by/fn': { topN: { n: 1, by: { fn: bad } } },
        '/vertices/1/sort/by/fn': { sort: { by: { fn: bad } } },
        '/vertices/1/distinct/key/fn': { distinct: { key: { fn: bad } } },
      };
      for (const [path, fields] of Object.entries(uncompiled)) {
        it(`reports a function that does not compile at ${path}`, () => {
          onlyIssue(oneInput(window(fields)), path, uncompilable);
        });
      }

      it('needs topN.n of at least 1, an integer', () => {
        onlyIssue(oneInput(window({ topN: { n: 0, by: { field: 'at' } } })), '/vertices/1/topN/n', /^must be at least 1 \(got 0\)$/);
        onlyIssue(oneInput(window({ topN: { n: 1.5, by: { field: 'at' } } })), '/vertices/1/topN/n', /^must be an integer \(got 1\.5\)$/);
      });

      it('needs topN.by', () => {
        onlyIssue(oneInput(window({ topN: { n: 2 } })), '/vertices/1/topN/by', /^is required$/);
      });

      it("takes 'asc' or 'desc' as the order of topN and sort", () => {
        onlyIssue(oneInput(window({ topN: { n: 1, by: { field: 'at' }, order: 'up' } })), '/vertices/1/topN/order', /^must be one of 'asc', 'desc' \(got 'up'\)$/);
        onlyIssue(oneInput(window({ sort: { order: 'descending' } })), '/vertices/1/sort/order', /^must be one of 'asc', 'desc' \(got 'descending'\)$/);
      });

      it('rejects an unknown property of sort and of an aggregate', () => {
        onlyIssue(oneInput(window({ sort: { by: { field: 'at' }, n: 3 } })), '/vertices/1/sort/n', /^unknown property; expected one of: by, order$/);
        onlyIssue(oneInput(window({ aggregate: { create: '() => 0', add: '(a) => a', result: '(a) => a', finish: '(a) => a' } })),
          '/vertices/1/aggregate/finish', /^unknown property; expected one of: create, add, result, merge$/);
      });

      it('rejects distinct as an object without a key, or with more, at the key or the property', () => {
        onlyIssue(oneInput(window({ distinct: {} })), '/vertices/1/distinct/key', /^is required$/);
        onlyIssue(oneInput(window({ distinct: { key: { field: 'page' }, first: true } })), '/vertices/1/distinct/first', /^unknown property; expected one of: key$/);
      });

      it('rejects distinct that is neither true nor an object, at distinct', () => {
        onlyIssue(oneInput(window({ distinct: false })), '/vertices/1/distinct', /^must be true \(got false\)$/);
        for (const distinct of ['yes', 1, null]) {
          onlyIssue(oneInput(window({ distinct })), '/vertices/1/distinct', /^must be a boolean or an object \(got .*\)$/);
        }
      });
    });

    describe('its assigner', () => {
      it('rejects a global window without a trigger, at trigger, saying what to add', () => {
        onlyIssue(oneInput(window({ assigner: { type: 'global' } })), '/vertices/1/trigger',
          /^a global window never ends, so only a trigger fires it: add "trigger": \{ "type": "count", "count": n \}$/);
      });

      it("takes time 'event' or 'processing' only", () => {
        onlyIssue(oneInput(window({ assigner: { ...tumbling, time: 'ingestion' } })), '/vertices/1/assigner/time',
          /^must be one of 'event', 'processing' \(got 'ingestion'\)$/);
      });

      it('rejects time, sizeMs or gapMs on a global assigner, at that property', () => {
        const global = { type: 'global' };
        const trigger = { type: 'count', count: 2 };
        for (const extra of [{ time: 'processing' }, { time: 'event' }, { sizeMs: 1000 }, { gapMs: 10 }]) {
          onlyIssue(oneInput(window({ assigner: { ...global, ...extra }, trigger })), `/vertices/1/assigner/${Object.keys(extra)[0]}`, /./);
        }
      });

      it('says a global assigner takes no time (nor size, slide, offset or gap)', () => {
        onlyIssue(oneInput(window({ assigner: { type: 'global', time: 'processing' }, trigger: { type: 'count', count: 2 } })),
          '/vertices/1/assigner/time', /global/);
      });

      it('needs the sizes of its type', () => {
        onlyIssue(oneInput(window({ assigner: { type: 'sliding', sizeMs: 1000 } })), '/vertices/1/assigner/slideMs', /^is required$/);
        onlyIssue(oneInput(window({ assigner: { type: 'session' } })), '/vertices/1/assigner/gapMs', /^is required$/);
        onlyIssue(oneInput(window({ assigner: { type: 'tumbling' } })), '/vertices/1/assigner/sizeMs', /^is required$/);
        onlyIssue(oneInput(window({ assigner: { type: 'tumbling', sizeMs: 0 } })), '/vertices/1/assigner/sizeMs', /^must be at least 1 \(got 0\)$/);
      });

      it('names the assigner types, and rejects an unknown assigner property', () => {
        onlyIssue(oneInput(window({ assigner: { type: 'count' } })), '/vertices/1/assigner/type',
          /^must be one of 'tumbling', 'sliding', 'session', 'global' \(got 'count'\)$/);
        onlyIssue(oneInput(window({ assigner: { type: 'tumbling', size: 1000, sizeMs: 1000 } })), '/vertices/1/assigner/size',
          /^unknown property; expected one of: type, sizeMs, slideMs, offsetMs, gapMs, time$/);
      });

      it('is required', () => {
        onlyIssue(broken(oneInput(window()), (d) => { delete d.vertices[1].assigner; }), '/vertices/1/assigner', /^is required by operator 'window'$/);
      });
    });

    describe('its trigger and evictor', () => {
      for (const field of ['trigger', 'evictor'] as const) {
        it(`needs ${field === 'trigger' ? 'a' : 'an'} ${field} count of at least 1, an integer`, () => {
          onlyIssue(oneInput(window({ [field]: { type: 'count', count: 0 } })), `/vertices/1/${field}/count`, /^must be at least 1 \(got 0\)$/);
          onlyIssue(oneInput(window({ [field]: { type: 'count', count: 2.5 } })), `/vertices/1/${field}/count`, /^must be an integer \(got 2\.5\)$/);
          onlyIssue(oneInput(window({ [field]: { type: 'count' } })), `/vertices/1/${field}/count`, /^is required$/);
        });

        it(`rejects ${field === 'trigger' ? 'a' : 'an'} ${field} of another type than 'count', at its type`, () => {
          onlyIssue(oneInput(window({ [field]: { type: 'time', count: 1 } })), `/vertices/1/${field}/type`, /./);
        });

        it(`says ${field === 'trigger' ? 'a' : 'an'} ${field} type must be 'count'`, () => {
          onlyIssue(oneInput(window({ [field]: { type: 'time', count: 1 } })), `/vertices/1/${field}/type`, /'count'.*'time'/);
        });
      }

      it('takes purge on a trigger only', () => {
        onlyIssue(oneInput(window({ trigger: { type: 'count', count: 1, purge: 'yes' } })), '/vertices/1/trigger/purge', /^must be a boolean \(got the string 'yes'\)$/);
        onlyIssue(oneInput(window({ evictor: { type: 'count', count: 1, purge: true } })), '/vertices/1/evictor/purge', /^unknown property; expected one of: type, count$/);
      });
    });

    it('rejects an unknown property, naming what a window takes', () => {
      onlyIssue(oneInput(window({ fn: '(x) => x' })), '/vertices/1/fn', unknownProperty('window', 'assigner, .*trigger, evictor, distinct, topN, sort'));
      onlyIssue(oneInput(window({ join: '(a, b) => a' })), '/vertices/1/join', unknownProperty('window', 'topN, sort'));
    });
  });

  describe('windowJoin', () => {
    it('resolves with its assigner and join, and both hash edges marked input 1 and 2', () => {
      const job = accepted(twoInputs(windowJoin({ allowedLatenessMs: 50 })));
      expect(job.vertices[2]).to.deep.include({
        id: 'op', operator: 'windowJoin', parallelism: 2, assigner: tumbling, join: '(c, p) => ({ ...c, country: p.country })', allowedLatenessMs: 50,
      });
      expect(job.edges.map((e) => [e.id, e.partition, e.key, e.input])).to.deep.equal([
        ['clicks->op', 'hash', { field: 'user' }, 1], ['profiles->op', 'hash', { field: 'user' }, 2], ['op->out', 'forward', undefined, undefined],
      ]);
    });

    it('accepts coGroup instead of join, on sliding, session, processing-time and triggered global windows', () => {
      const coGroup = '(clicks, profiles, ctx) => [[ctx.key, clicks.length, profiles.length]]';
      for (const assigner of [{ type: 'sliding', sizeMs: 100, slideMs: 50 }, { type: 'session', gapMs: 10, time: 'processing' }]) {
        expect(accepted(twoInputs(windowJoin({ assigner, join: undefined, coGroup }))).vertices[2]).to.deep.include({ assigner, coGroup });
      }
      const global = accepted(twoInputs(windowJoin({ assigner: { type: 'global' }, trigger: { type: 'count', count: 5, purge: true } })));
      expect(global.vertices[2]).to.deep.include({ assigner: { type: 'global' }, trigger: { type: 'count', count: 5, purge: true } });
    });

    it('needs exactly one of join and coGroup', () => {
      onlyIssue(twoInputs(windowJoin({ join: undefined })), '/vertices/2', /^needs 'join' or 'coGroup'$/);
      onlyIssue(twoInputs(windowJoin({ coGroup: '(a, b) => []' })), '/vertices/2', /^takes 'join' or 'coGroup', not both$/);
    });

    it('reports a join or coGroup that does not compile, at its path', () => {
      onlyIssue(twoInputs(windowJoin({ join: '(c, p) =>> c' })), '/vertices/2/join', uncompilable);
      onlyIssue(twoInputs(windowJoin({ join: undefined, coGroup: '(l, r, ctx) => { [' })), '/vertices/2/coGroup', uncompilable);
    });

    it('needs both inputs to be hash edges, at the partition of the one that is not', () => {
      onlyIssue(twoInputs(windowJoin(), { partition: 'rebalance' }), '/edges/0/partition',
        /^both inputs of 'op' \(windowJoin\) must be 'hash' edges with a key, keyed alike; this edge is 'rebalance'$/);
      onlyIssue(twoInputs(windowJoin(), byUser, {}), '/edges/1/partition', /^both inputs of 'op' \(windowJoin\) .* this edge is 'forward' \(the default\)$/);
    });

    it('needs an edge marked input 1 and one marked input 2', () => {
      onlyIssue(broken(twoInputs(windowJoin()), (d) => { d.edges.splice(1, 1); }), '/vertices/2', /^'op' \(windowJoin\) needs an edge with "input": 2 \(its second stream\)$/);
      expect(issuesOf(broken(twoInputs(windowJoin()), (d) => { delete d.edges[0].input; }))).to.have.deep.members([
        { path: '/edges/0', message: `an edge into 'op' (windowJoin) must say which input it is: "input": 1 or 2` },
        { path: '/vertices/2', message: `'op' (windowJoin) needs an edge with "input": 1 (its first stream)` },
      ]);
    });

    it('rejects a global window without a trigger, at trigger', () => {
      onlyIssue(twoInputs(windowJoin({ assigner: { type: 'global' } })), '/vertices/2/trigger', /^a global window never ends, so only a trigger fires it/);
    });

    it("takes time 'event' or 'processing' only, and not on a global assigner", () => {
      onlyIssue(twoInputs(windowJoin({ assigner: { ...tumbling, time: 'wall' } })), '/vertices/2/assigner/time', /^must be one of 'event', 'processing' \(got 'wall'\)$/);
      onlyIssue(twoInputs(windowJoin({ assigner: { type: 'global', time: 'event' }, trigger: { type: 'count', count: 1 } })), '/vertices/2/assigner/time', /./);
    });

    it('rejects what only a window takes (evictor, lateTag, reduce), naming what a windowJoin takes', () => {
      for (const [field, value] of [['evictor', { type: 'count', count: 1 }], ['lateTag', 'late'], ['reduce', '(a, b) => b']] as const) {
        onlyIssue(twoInputs(windowJoin({ [field]: value })), `/vertices/2/${field}`, unknownProperty('windowJoin', 'assigner, trigger, join, coGroup, allowedLatenessMs'));
      }
    });
  });

  describe('intervalJoin', () => {
    it('resolves with its bounds and fn, and both hash edges marked input 1 and 2', () => {
      const job = accepted(twoInputs(intervalJoin({ lowerExclusive: true, upperExclusive: false })));
      expect(job.vertices[2]).to.deep.include({
        operator: 'intervalJoin', lowerMs: -10, upperMs: 5, lowerExclusive: true, upperExclusive: false, fn: '(c, p, ctx) => [[c.page, p.country]]',
      });
      expect(job.edges.slice(0, 2).map((e) => [e.partition, e.input])).to.deep.equal([['hash', 1], ['hash', 2]]);
    });

    it('accepts lowerMs equal to upperMs (records at the same offset only)', () => {
      accepted(twoInputs(intervalJoin({ lowerMs: 0, upperMs: 0 })));
    });

    it('rejects lowerMs above upperMs, at upperMs', () => {
      onlyIssue(twoInputs(intervalJoin({ lowerMs: 6, upperMs: 5 })), '/vertices/2/upperMs', /^must be at least lowerMs \(6\), got 5$/);
      onlyIssue(twoInputs(intervalJoin({ lowerMs: 5, upperMs: 5, lowerExclusive: true })), '/vertices/2', /^the interval from 5 to 5, without its excluded bounds, holds no millisecond/);
      onlyIssue(twoInputs(intervalJoin({ lowerMs: 5, upperMs: 6, lowerExclusive: true, upperExclusive: true })), '/vertices/2', /holds no millisecond/);
      accepted(twoInputs(intervalJoin({ lowerMs: 5, upperMs: 6, upperExclusive: true })));
    });

    it('needs integer bounds and fn', () => {
      onlyIssue(twoInputs(intervalJoin({ lowerMs: 1.5 })), '/vertices/2/lowerMs', /^must be an integer \(got 1\.5\)$/);
      onlyIssue(twoInputs(intervalJoin({ upperMs: undefined })), '/vertices/2/upperMs', /^is required by operator 'intervalJoin'$/);
      onlyIssue(twoInputs(intervalJoin({ fn: undefined })), '/vertices/2/fn', /^is required by operator 'intervalJoin'$/);
    });

    it('reports an fn that does not compile', () => {
      onlyIssue(twoInputs(intervalJoin({ fn: 'function (c, p' })), '/vertices/2/fn', uncompilable);
    });

    it('needs both inputs to be hash edges, marked input 1 and 2', () => {
      onlyIssue(twoInputs(intervalJoin(), byUser, broadcast), '/edges/1/partition', /^both inputs of 'op' \(intervalJoin\) must be 'hash' edges .* this edge is 'broadcast'$/);
      expect(issuesOf(broken(twoInputs(intervalJoin()), (d) => { d.edges[1].input = 1; }))).to.have.deep.members([
        { path: '/edges/1/input', message: `'op' (intervalJoin) takes one edge as input 1; /edges/0 is one already` },
        { path: '/vertices/2', message: `'op' (intervalJoin) needs an edge with "input": 2 (its second stream)` },
      ]);
    });

    it('rejects an unknown property, naming what an intervalJoin takes', () => {
      onlyIssue(twoInputs(intervalJoin({ lateTag: 'late' })), '/vertices/2/lateTag', unknownProperty('intervalJoin', 'lowerMs, upperMs, lowerExclusive, upperExclusive, fn'));
    });
  });

  describe('broadcastProcess', () => {
    it('resolves keyed (input 1 hash) with a broadcast input 2, keeping fn1 and fn2', () => {
      const job = accepted(twoInputs(broadcastProcess(), byUser, broadcast));
      expect(job.vertices[2]).to.deep.include({ operator: 'broadcastProcess', fn1: '(c, ctx) => [c]', fn2: '(rule, ctx) => []' });
      expect(job.edges.slice(0, 2).map((e) => [e.partition, e.key, e.input])).to.deep.equal([['hash', { field: 'user' }, 1], ['broadcast', undefined, 2]]);
    });

    it('accepts an input 1 that is not keyed: rebalance, or forward by default', () => {
      accepted(twoInputs(broadcastProcess(), { partition: 'rebalance' }, broadcast));
      expect(accepted(twoInputs(broadcastProcess(), {}, broadcast)).edges[0]!.partition).to.equal('forward');
    });

    for (const [name, second, got] of [['hash', byUser, `'hash'`], ['rebalance', { partition: 'rebalance' }, `'rebalance'`], ['no partition', {}, `'forward' \\(the default\\)`]] as const) {
      it(`needs its input 2 to be a broadcast edge, rejecting ${name}, at its partition`, () => {
        onlyIssue(twoInputs(broadcastProcess(), byUser, second), '/edges/1/partition',
          new RegExp(`^input 2 of 'op' \\(broadcastProcess\\) is the input every subtask reads all of: make it a 'broadcast' edge; it is ${got}$`));
      });
    }

    it('needs an edge marked input 2', () => {
      onlyIssue(broken(twoInputs(broadcastProcess(), byUser, broadcast), (d) => { d.edges.splice(1, 1); }), '/vertices/2',
        /^'op' \(broadcastProcess\) needs an edge with "input": 2 \(its second stream\)$/);
    });

    it('reports fn1 or fn2 that does not compile, at its path', () => {
      onlyIssue(twoInputs(broadcastProcess({ fn2: '(rule, ctx) => { ctx.broadcastState(' }), byUser, broadcast), '/vertices/2/fn2', uncompilable);
      onlyIssue(twoInputs(broadcastProcess({ fn1: '(c, ctx) =>' }), byUser, broadcast), '/vertices/2/fn1', uncompilable);
    });

    it('rejects fn, as process takes, naming what a broadcastProcess takes', () => {
      onlyIssue(twoInputs(broadcastProcess({ fn: '(x) => [x]' }), byUser, broadcast), '/vertices/2/fn', unknownProperty('broadcastProcess', 'fn1, fn2'));
    });
  });

  describe('eventTimeSort', () => {
    it('resolves with its lateTag, on any input', () => {
      expect(accepted(oneInput({ id: 'op', operator: 'eventTimeSort', lateTag: 'late' }, {})).vertices[1])
        .to.deep.include({ operator: 'eventTimeSort', lateTag: 'late', parallelism: 2 });
      accepted(oneInput({ id: 'op', operator: 'eventTimeSort' }, byUser));
    });

    it('rejects an empty lateTag and an unknown property', () => {
      onlyIssue(oneInput({ id: 'op', operator: 'eventTimeSort', lateTag: '' }, {}), '/vertices/1/lateTag', /^must not be empty$/);
      onlyIssue(broken(oneInput({ id: 'op', operator: 'eventTimeSort' }, {}), (d) => { d.vertices[1].outOfOrdernessMs = 5; }),
        '/vertices/1/outOfOrdernessMs', unknownProperty('eventTimeSort', 'lateTag'));
    });

    it('rejects an edge marked as input 1, as it has one input', () => {
      onlyIssue(oneInput({ id: 'op', operator: 'eventTimeSort' }, { input: 1 }), '/edges/0/input', /^only an edge into a two-input operator .* 'op' is eventTimeSort$/);
    });
  });

  describe('process, keyed or not', () => {
    const process = (fields: object = {}) => op({ operator: 'process', fn: '(c, ctx) => [c]' }, fields);
    const onTimer = '(timestamp, ctx) => [[ctx.key, timestamp]]';

    it('accepts an input that is not hash (a ProcessFunction), forward or rebalance', () => {
      accepted(oneInput(process(), {}));
      accepted(oneInput(process(), { partition: 'rebalance' }));
    });

    it('accepts onTimer on a hash input, and resolves with it', () => {
      expect(accepted(oneInput(process({ onTimer }))).vertices[1]).to.deep.include({ fn: '(c, ctx) => [c]', onTimer });
    });

    it('rejects onTimer without a hash input, at onTimer', () => {
      for (const input of [{}, { partition: 'rebalance' }, broadcast] as Input[]) {
        onlyIssue(oneInput(process({ onTimer }), input), '/vertices/1/onTimer',
          /^timers are per key: 'op' \(process\) needs a 'hash' input edge with a key to have an onTimer function$/);
      }
    });

    it('reports an onTimer that does not compile', () => {
      onlyIssue(oneInput(process({ onTimer: '(t, ctx) => {' })), '/vertices/1/onTimer', uncompilable);
    });
  });

  describe('side outputs (an edge with a tag)', () => {
    const emitters: Record<string, () => JobDescriptor> = {
      window: () => oneInput(window({ lateTag: 'late' })),
      process: () => oneInput({ id: 'op', operator: 'process', fn: '(c, ctx) => { ctx.output("late", c); }' }, {}),
      intervalJoin: () => twoInputs(intervalJoin()),
      broadcastProcess: () => twoInputs(broadcastProcess(), byUser, broadcast),
      eventTimeSort: () => oneInput({ id: 'op', operator: 'eventTimeSort', lateTag: 'late' }, {}),
    };
    for (const [operator, job] of Object.entries(emitters)) {
      it(`are accepted from ${operator}, and the edge keeps its tag`, () => {
        const resolved = accepted(withSideOutput(job()));
        expect(resolved.edges.at(-1)).to.include({ id: 'op->side', from: 'op', to: 'side', tag: 'late' });
      });
    }

    const silent: Record<string, () => JobDescriptor> = {
      map: () => oneInput({ id: 'op', operator: 'map', fn: '(c) => c' }, {}),
      windowJoin: () => twoInputs(windowJoin()),
    };
    for (const [operator, job] of Object.entries(silent)) {
      it(`are rejected from ${operator}, at the edge's tag, naming the operators that emit them`, () => {
        const edges = job().edges.length;
        onlyIssue(withSideOutput(job()), `/edges/${edges}/tag`,
          new RegExp(`^'op' \\(${operator}\\) has no side outputs; only process, coProcess, window, intervalJoin, broadcastProcess, eventTimeSort emit them`));
      });
    }
  });
});
