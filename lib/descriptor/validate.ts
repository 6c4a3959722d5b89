import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import schema from '../../config/descriptor.schema.json' with { type: 'json' };
import { defaultRestartStrategy } from '../restart/index.ts';
import { hasSideOutputs, isBatchOperator, isKeyed, isOptionallyKeyed, isSink, isSource, isTwoInput, topologicalOrder } from './graph.ts';
import {
  OPERATORS,
  type CheckpointingDescriptor, type DescriptorIssue, type JobDescriptor, type OperatorName, type Partitioning,
  type ResolvedCheckpointing, type ResolvedJob,
} from './types.ts';
import { checkUserFunctionSource } from './udf.ts';
import { resolveNexmarkConfig } from '../nexmark/config.ts';

export const DEFAULT_MODE = 'streaming';
/** What each slot gives its blocking batch operators before they spill, as Flink's managed memory. */
export const DEFAULT_BATCH_MEMORY_MB = 128;
export const DEFAULT_PARALLELISM = 1;
export const DEFAULT_MAX_PARALLELISM = 128;
export const DEFAULT_CHECKPOINT_TIMEOUT_MS = 60_000;
export const DEFAULT_CHECKPOINT_MIN_PAUSE_MS = 0;
export const DEFAULT_CHECKPOINTING_MODE = 'exactly-once';
export const DEFAULT_TOLERABLE_CHECKPOINT_FAILURES = 0;

export type DescriptorValidation = { ok: true; job: ResolvedJob } | { ok: false; issues: DescriptorIssue[] };

/**
 * Checks a submitted descriptor against the schema and the graph rules, and reports every
 * problem with its path; on success returns it with every default filled in.
 */
export function validateDescriptor(input: unknown): DescriptorValidation {
  const issues = schemaIssues(input);
  if (isRecord(input)) issues.push(...graphIssues(input), ...functionIssues(input), ...restartStrategyIssues(input), ...nexmarkIssues(input));
  const unique = [...new Map(issues.map((i) => [`${i.path}\n${i.message}`, i])).values()];
  return unique.length === 0 ? { ok: true, job: resolve(input as JobDescriptor) } : { ok: false, issues: unique };
}

function resolve(d: JobDescriptor): ResolvedJob {
  const parallelism = d.parallelism ?? DEFAULT_PARALLELISM;
  const params = d.params ?? {};
  const vertices = d.vertices.map((v) => ({
    ...v, name: v.name ?? v.id, parallelism: v.parallelism ?? parallelism, params: { ...params, ...v.params },
  }));
  const parallelismOf = new Map(vertices.map((v) => [v.id, v.parallelism]));
  const edges = d.edges.map((e) => ({
    ...e,
    id: e.id ?? `${e.from}->${e.to}`,
    partition: e.partition ?? (parallelismOf.get(e.from) === parallelismOf.get(e.to) ? 'forward' : 'rebalance'),
  }));
  const checkpointing = resolveCheckpointing(d.checkpointing);
  return {
    apiVersion: d.apiVersion, name: d.name, mode: d.mode ?? DEFAULT_MODE, parallelism,
    maxParallelism: d.maxParallelism ?? DEFAULT_MAX_PARALLELISM, params, operatorChaining: d.operatorChaining ?? true, checkpointing,
    restartStrategy: d.restartStrategy ? { ...d.restartStrategy } : defaultRestartStrategy(checkpointing.enabled, d.mode === 'batch'),
    ...(d.mode === 'batch' ? { batch: { memoryPerSlotBytes: (d.batch?.memoryPerSlotMb ?? DEFAULT_BATCH_MEMORY_MB) * 1024 * 1024, shuffle: d.batch?.shuffle ?? 'blocking' } } : {}),
    vertices, edges,
  };
}

function resolveCheckpointing(c: CheckpointingDescriptor | undefined): ResolvedCheckpointing {
  return {
    enabled: c !== undefined,
    intervalMs: c?.intervalMs ?? 0,
    timeoutMs: c?.timeoutMs ?? DEFAULT_CHECKPOINT_TIMEOUT_MS,
    minPauseMs: c?.minPauseMs ?? DEFAULT_CHECKPOINT_MIN_PAUSE_MS,
    mode: c?.mode ?? DEFAULT_CHECKPOINTING_MODE,
    tolerableFailures: c?.tolerableFailures ?? DEFAULT_TOLERABLE_CHECKPOINT_FAILURES,
  };
}

// ---- schema errors, rewritten for people ----

let compiled: ValidateFunction | undefined;
function checkSchema(): ValidateFunction {
  // verbose: errors carry the offending value and schema, which the messages quote.
  compiled ??= new Ajv2020({ allErrors: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true })
    .compile(schema);
  return compiled;
}

/** The properties each operator takes besides the common ones, read from the schema's if/then branches. */
const COMMON_VERTEX_PROPERTIES = Object.keys(schema.$defs.vertex.properties);
const OPERATOR_PROPERTIES = new Map<string, string[]>(
  schema.$defs.vertex.allOf.map((branch): [string, string[]] => [branch.if.properties.operator.const, Object.keys(branch.then.properties)]),
);

function schemaIssues(input: unknown): DescriptorIssue[] {
  const validate = checkSchema();
  if (validate(input)) return [];
  const errors = validate.errors ?? [];
  return errors.filter((e) => !explainedByOneOf(e, errors)).flatMap((e) => {
    const issue = describeError(e);
    return issue === null ? [] : [issue];
  });
}

// The branches of a failed oneOf are summarised by the oneOf's own message.
function explainedByOneOf(error: ErrorObject, errors: ErrorObject[]): boolean {
  return errors.some((o) => o !== error && o.keyword === 'oneOf' &&
    (error.instancePath === o.instancePath || error.instancePath.startsWith(`${o.instancePath}/`)) &&
    error.schemaPath.startsWith(`${o.schemaPath}/`));
}

function describeError(e: ErrorObject): DescriptorIssue | null {
  const at = (message: string, path = e.instancePath): DescriptorIssue => ({ path, message });
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'if':
      return null; // "must match then schema": the branch's own errors say what is wrong.
    case 'required': {
      const missing = String(params.missingProperty);
      const operator = isRecord(e.data) && e.schemaPath.includes('/allOf/') ? e.data.operator : undefined;
      const strategy = isRecord(e.data) && e.schemaPath.startsWith('#/$defs/restartStrategy/allOf/') ? e.data.type : undefined;
      const by = typeof operator === 'string' ? ` by operator '${operator}'` : typeof strategy === 'string' ? ` by restart strategy '${strategy}'` : '';
      return at(`is required${by}`, pointer(e.instancePath, missing));
    }
    case 'additionalProperties': {
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const strategy = isRecord(e.data) && e.schemaPath.startsWith('#/$defs/restartStrategy/allOf/') ? e.data.type : undefined;
      const message = typeof strategy === 'string'
        ? `unknown property for restart strategy '${strategy}'; it takes: ${known.join(', ')}`
        : `unknown property; expected one of: ${known.join(', ')}`;
      return at(message, pointer(e.instancePath, String(params.additionalProperty)));
    }
    case 'unevaluatedProperties':
      return unknownVertexProperty(e, String(params.unevaluatedProperty));
    case 'oneOf':
      // Branches that only list required properties pass vacuously on a non-object, which its type error reports.
      return isRecord(e.data) ? at(oneOfMessage(e)) : null;
    case 'enum':
      return at(enumMessage(e));
    case 'const':
      return at(`must be ${show(params.allowedValue)} (got ${show(e.data)})`);
    case 'false schema': {
      const property = e.instancePath.slice(e.instancePath.lastIndexOf('/') + 1);
      return at(/\/assigner\/[^/]+$/.test(e.instancePath)
        ? `a 'global' assigner takes no '${property}': it has no size, slide, offset, gap or time`
        : `'${property}' does not apply here`);
    }
    case 'type':
      if (e.instancePath === '') return at(`the job descriptor must be a JSON object or msgpack map (got ${kindOf(e.data)})`);
      if (e.parentSchema === schema.$defs.userFunction) {
        return at(`must be the source text of a function expression, or { "module": ..., "export": ... } (got ${kindOf(e.data)})`);
      }
      return at(`must be ${[params.type].flat().map(article).join(' or ')} (got ${kindOf(e.data)})`);
    case 'minimum':
      return at(`must be at least ${String(params.limit)} (got ${show(e.data)})`);
    case 'maximum':
      return at(`must be at most ${String(params.limit)} (got ${show(e.data)})`);
    case 'minLength':
      return at(params.limit === 1 ? 'must not be empty' : e.message ?? 'is too short');
    case 'pattern':
      return e.schema === schema.$defs.id.pattern
        ? at(`${show(e.data)} cannot contain '.', '*', '>' or whitespace: ids become tokens of NATS subjects`)
        : at(e.message ?? 'does not match the expected pattern');
    default:
      return at(e.message ?? `fails the '${e.keyword}' rule`);
  }
}

function unknownVertexProperty(e: ErrorObject, property: string): DescriptorIssue | null {
  const operator = isRecord(e.data) ? e.data.operator : undefined;
  const own = typeof operator === 'string' ? OPERATOR_PROPERTIES.get(operator) : undefined;
  // An unknown operator is reported on its own; and ajv marks an operator's own properties
  // unevaluated whenever its branch fails, which that branch's errors already explain.
  if (own === undefined || own.includes(property)) return null;
  return {
    path: pointer(e.instancePath, property),
    message: `unknown property for operator '${String(operator)}'; it takes: ${[...COMMON_VERTEX_PROPERTIES, ...own].join(', ')}`,
  };
}

function enumMessage(e: ErrorObject): string {
  const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
  if (e.instancePath === '/apiVersion') {
    return `unsupported apiVersion ${show(e.data)}; supported versions: ${allowed.join(', ')}`;
  }
  if (/^\/vertices\/\d+\/operator$/.test(e.instancePath)) {
    return `unknown operator ${show(e.data)}; known operators: ${allowed.join(', ')}`;
  }
  return `must be one of ${allowed.map(show).join(', ')} (got ${show(e.data)})`;
}

function oneOfMessage(e: ErrorObject): string {
  const branches = e.schema as { required?: string[] }[];
  // A branch names its one required property; it may also rule others out (`not`).
  const names = branches.map((b) => (b.required?.length === 1 && Object.keys(b).every((k) => k === 'required' || k === 'not') ? b.required[0] : undefined));
  if (names.some((n) => n === undefined)) return e.message ?? 'must match exactly one of the allowed shapes';
  const choice = names.map((n) => `'${n}'`).join(' or ');
  return (e.params as { passingSchemas: unknown }).passingSchemas === null ? `needs ${choice}` : `takes ${choice}, not both`;
}

// ---- the rules a schema cannot express ----

interface VertexView {
  index: number; id: string; operator?: OperatorName; parallelism?: number; parallelismGiven: boolean; watermarks: boolean;
  /** The fields some rules look at: a process function's onTimer, a window's assigner and trigger, an interval join's bounds. */
  raw: Record<string, unknown>;
}
interface EdgeView {
  index: number; id: string; explicitId: boolean; from: string; to: string;
  partition?: Partitioning; partitionGiven: boolean; key: unknown; input: unknown; tag: unknown;
}
interface GraphView {
  vertices: VertexView[];
  edges: EdgeView[];
  byId: Map<string, VertexView>;
  // Rules about what is absent (no input, no source) need every vertex or edge readable.
  allVerticesReadable: boolean;
  allEdgesReadable: boolean;
}

/** Reads what can be read of a descriptor that may have failed the schema; parts that fail are skipped. */
function viewOf(d: Record<string, unknown>): GraphView {
  const jobParallelism = d.parallelism === undefined ? DEFAULT_PARALLELISM : positiveInteger(d.parallelism);
  const rawVertices = Array.isArray(d.vertices) ? d.vertices : [];
  const rawEdges = Array.isArray(d.edges) ? d.edges : [];
  const vertices = rawVertices.flatMap((v, index): VertexView[] => (isRecord(v) && typeof v.id === 'string'
    ? [{
      index, id: v.id, operator: OPERATORS.find((o) => o === v.operator),
      parallelism: v.parallelism === undefined ? jobParallelism : positiveInteger(v.parallelism),
      parallelismGiven: v.parallelism !== undefined,
      watermarks: v.watermarks !== undefined,
      raw: v,
    }]
    : []));
  const byId = new Map<string, VertexView>();
  for (const v of vertices) if (!byId.has(v.id)) byId.set(v.id, v);
  const edges = rawEdges.flatMap((e, index): EdgeView[] => {
    if (!isRecord(e) || typeof e.from !== 'string' || typeof e.to !== 'string') return [];
    const explicitId = typeof e.id === 'string';
    return [{
      index, from: e.from, to: e.to, key: e.key, input: e.input, tag: e.tag, explicitId,
      id: explicitId ? e.id as string : `${e.from}->${e.to}`,
      partitionGiven: e.partition !== undefined,
      partition: e.partition === undefined ? defaultPartition(byId.get(e.from), byId.get(e.to)) : partitioning(e.partition),
    }];
  });
  return {
    vertices, edges, byId,
    allVerticesReadable: Array.isArray(d.vertices) && vertices.length === rawVertices.length,
    allEdgesReadable: Array.isArray(d.edges) && edges.length === rawEdges.length,
  };
}

function graphIssues(d: Record<string, unknown>): DescriptorIssue[] {
  const g = viewOf(d);
  return [
    ...modeRules(d, g),
    ...duplicateIds(g), ...parallelismLimits(d, g), ...danglingEdges(g), ...cycles(g),
    ...edgeRules(g), ...inputRules(g), ...vertexFieldRules(g), ...sourcesAndSinks(g),
  ];
}

function duplicateIds(g: GraphView): DescriptorIssue[] {
  const issues: DescriptorIssue[] = [];
  for (const v of g.vertices) {
    const first = g.byId.get(v.id)!;
    if (first !== v) issues.push({ path: `/vertices/${v.index}/id`, message: `duplicate vertex id '${v.id}' (also /vertices/${first.index})` });
  }
  const edgesById = new Map<string, EdgeView>();
  for (const e of g.edges) {
    const first = edgesById.get(e.id);
    if (first === undefined) edgesById.set(e.id, e);
    else if (e.explicitId) issues.push({ path: `/edges/${e.index}/id`, message: `duplicate edge id '${e.id}' (also /edges/${first.index})` });
    else issues.push({ path: `/edges/${e.index}`, message: `a second edge from '${e.from}' to '${e.to}' (also /edges/${first.index})` });
  }
  return issues;
}

function parallelismLimits(d: Record<string, unknown>, g: GraphView): DescriptorIssue[] {
  const max = d.maxParallelism === undefined ? DEFAULT_MAX_PARALLELISM : positiveInteger(d.maxParallelism);
  if (max === undefined) return [];
  const tooHigh = (p: number) => `${p} exceeds maxParallelism ${max}; lower it or raise maxParallelism (key groups)`;
  const issues: DescriptorIssue[] = [];
  const jobParallelism = positiveInteger(d.parallelism);
  if (jobParallelism !== undefined && jobParallelism > max) issues.push({ path: '/parallelism', message: tooHigh(jobParallelism) });
  for (const v of g.vertices) {
    if (v.parallelismGiven && v.parallelism !== undefined && v.parallelism > max) {
      issues.push({ path: `/vertices/${v.index}/parallelism`, message: tooHigh(v.parallelism) });
    }
  }
  return issues;
}

function danglingEdges(g: GraphView): DescriptorIssue[] {
  // A vertex without a readable id is already reported; its edges would only repeat that.
  if (!g.allVerticesReadable) return [];
  return g.edges.flatMap((e) => (['from', 'to'] as const)
    .filter((end) => !g.byId.has(e[end]))
    .map((end) => ({ path: `/edges/${e.index}/${end}`, message: `no vertex has the id '${e[end]}'` })));
}

function cycles(g: GraphView): DescriptorIssue[] {
  const order = topologicalOrder({ vertices: [...g.byId.values()], edges: g.edges });
  if (Array.isArray(order)) return [];
  const { cycle } = order;
  const closing = g.edges.find((e) => e.from === cycle[cycle.length - 1] && e.to === cycle[0])!;
  return [{
    path: `/edges/${closing.index}`,
    message: `the graph has a cycle: ${[...cycle, cycle[0]].join(' -> ')}; a job graph must be acyclic`,
  }];
}

function edgeRules(g: GraphView): DescriptorIssue[] {
  const issues: DescriptorIssue[] = [];
  for (const e of g.edges) {
    const at = (suffix: string, message: string) => issues.push({ path: `/edges/${e.index}/${suffix}`, message });
    const from = g.byId.get(e.from);
    const to = g.byId.get(e.to);
    if (from?.operator && isSink(from.operator)) at('from', `'${e.from}' is a sink (${from.operator}) and cannot have output edges`);
    if (to?.operator && isSource(to.operator)) at('to', `'${e.to}' is a source (${to.operator}) and cannot have input edges`);
    if (e.tag !== undefined && from?.operator && !hasSideOutputs(from.operator)) {
      at('tag', `'${e.from}' (${from.operator}) has no side outputs; only ${OPERATORS.filter(hasSideOutputs).join(', ')} emit them (ctx.output(tag, value), or late data)`);
    }
    if (e.partition === 'hash' && e.key === undefined) at('key', `a 'hash' edge needs a key: { "field": ... } or { "fn": ... }`);
    if (e.partition === 'custom' && from?.operator !== undefined && from.operator !== 'batch.rangePartition') {
      at('partition', `only a batch.rangePartition picks the subtask of each record: a 'custom' edge comes out of one, and '${e.from}' is ${from.operator}`);
    }
    if (e.partition !== undefined && e.partition !== 'custom' && from?.operator === 'batch.rangePartition' && e.tag === undefined) {
      at('partition', `a batch.rangePartition sends each record to the subtask of its range: its output edges are 'custom', not '${e.partition}'`);
    }
    if (e.key !== undefined && !e.partitionGiven) at('key', `only a 'hash' edge takes a key; add "partition": "hash"`);
    if (e.key !== undefined && e.partition !== undefined && e.partition !== 'hash' && e.partitionGiven) {
      at('key', `only a 'hash' edge takes a key; this edge is '${e.partition}'`);
    }
    if (e.partitionGiven && e.partition === 'forward' && from?.parallelism !== undefined && to?.parallelism !== undefined &&
        from.parallelism !== to.parallelism) {
      at('partition', `a 'forward' edge needs the same parallelism at both ends, but '${e.from}' has ${from.parallelism} ` +
        `and '${e.to}' has ${to.parallelism}; use 'rebalance' or 'hash'`);
    }
  }
  return issues;
}

function inputRules(g: GraphView): DescriptorIssue[] {
  const issues: DescriptorIssue[] = [];
  for (const v of g.vertices) {
    if (v.watermarks && v.operator !== undefined && !isSource(v.operator)) {
      issues.push({ path: `/vertices/${v.index}/watermarks`, message: `'${v.id}' (${v.operator}) is not a source; timestamps and watermarks are assigned at a source` });
    }
    if (v.operator === undefined || isSource(v.operator) || g.byId.get(v.id) !== v) continue;
    const inputs = g.edges.filter((e) => e.to === v.id);
    const described = `'${v.id}' (${v.operator})`;
    if (inputs.length === 0 && g.allEdgesReadable) {
      issues.push({ path: `/vertices/${v.index}`, message: `${described} has no input edge; only sources (source.*) go without one` });
    }
    if (isTwoInput(v.operator)) {
      issues.push(...twoInputRules(v, inputs, g.allEdgesReadable));
      if (isKeyed(v.operator)) {
        for (const e of inputs) {
          // As for one input: an unreadable partition is the schema's issue, a key without "hash" the key's.
          if (e.partition !== undefined && e.partition !== 'hash' && !(e.key !== undefined && !e.partitionGiven)) {
            issues.push({
              path: `/edges/${e.index}/partition`,
              message: `both inputs of '${v.id}' (${v.operator}) must be 'hash' edges with a key, keyed alike; this edge is '${e.partition}'${e.partitionGiven ? '' : ' (the default)'}`,
            });
          }
        }
      }
      const second = inputs.find((e) => e.input === 2);
      const broadcastSecond = v.operator === 'broadcastProcess' || v.operator === 'batch.cross' || v.operator === 'batch.rangePartition' ||
        (v.operator === 'batch.join' && v.raw.strategy === 'broadcast-hash');
      if (broadcastSecond && second !== undefined && second.partition !== undefined && second.partition !== 'broadcast') {
        issues.push({ path: `/edges/${second.index}/partition`, message: `input 2 of ${described} is the input every subtask reads all of: make it a 'broadcast' edge; it is '${second.partition}'${second.partitionGiven ? '' : ' (the default)'}` });
      }
      if ((v.operator === 'batch.join' && !broadcastSecond) || v.operator === 'batch.coGroup') {
        for (const e of inputs) {
          if (e.partition !== undefined && e.partition !== 'hash') {
            issues.push({ path: `/edges/${e.index}/partition`, message: `both inputs of ${described} must be 'hash' edges by its keys (key1 and key2), so that equal keys meet; this edge is '${e.partition}'${e.partitionGiven ? '' : ' (the default)'}` });
          }
        }
      }
      continue;
    }
    for (const e of inputs) {
      if (e.input !== undefined) {
        issues.push({ path: `/edges/${e.index}/input`, message: `only an edge into a two-input operator (${TWO_INPUT_NAMES}) says which input it is; '${v.id}' is ${v.operator}` });
      }
    }
    if (!isKeyed(v.operator) && !isOptionallyKeyed(v.operator)) continue;
    if (inputs.length > 1) {
      issues.push({
        path: `/vertices/${v.index}`,
        message: `${described} ${isKeyed(v.operator) ? 'is keyed and ' : ''}takes exactly one input edge${isKeyed(v.operator) ? ", a 'hash' edge" : ' (union the streams first)'}; it has ${inputs.length}, from ` +
          inputs.map((e) => `'${e.from}'`).join(', '),
      });
    }
    const input = inputs[0];
    if (inputs.length !== 1 || input!.partition === undefined) continue;
    // A key without "partition": "hash" is reported on the key, which says what to add.
    const unkeyed = input!.partition !== 'hash' && !(input!.key !== undefined && !input!.partitionGiven);
    if (isKeyed(v.operator) && unkeyed) {
      issues.push({
        path: `/edges/${input!.index}/partition`,
        message: `the input of ${described} must be a 'hash' edge with a key, since ${v.operator} keeps its state per key; ` +
          `this edge is '${input!.partition}'${input!.partitionGiven ? '' : ' (the default)'}`,
      });
    }
    if (!unkeyed) continue;
    if (v.operator === 'process' && v.raw.onTimer !== undefined) {
      issues.push({ path: `/vertices/${v.index}/onTimer`, message: `timers are per key: ${described} needs a 'hash' input edge with a key to have an onTimer function` });
    }
    if (v.operator === 'window' && v.parallelism !== undefined && v.parallelism !== 1) {
      issues.push({
        path: `/vertices/${v.index}`,
        message: `${described} is not keyed (its input is '${input!.partition}'), so one instance sees every record (windowAll): ` +
          `give it "parallelism": 1, or make its input a 'hash' edge with a key; its parallelism is ${v.parallelism}`,
      });
    }
    if ((v.operator === 'batch.reduceGroup' || v.operator === 'batch.first') && v.raw.sortGroup !== undefined) {
      issues.push({
        path: `/vertices/${v.index}/sortGroup`,
        message: `sortGroup sorts the records of each group: ${described} needs a 'hash' input edge with the group key; its input is '${input!.partition}'`,
      });
    }
  }
  return issues;
}

const TWO_INPUT_NAMES = OPERATORS.filter(isTwoInput).join(', ');

/** Batch operators run in mode batch, whose jobs take no checkpoints: a failed one runs again from its inputs. */
function modeRules(d: Record<string, unknown>, g: GraphView): DescriptorIssue[] {
  const issues: DescriptorIssue[] = [];
  if (d.mode !== 'batch') {
    for (const v of g.vertices) {
      if (v.operator && isBatchOperator(v.operator)) issues.push({ path: `/vertices/${v.index}/operator`, message: `${v.operator} is a batch operator: it needs "mode": "batch"` });
    }
  } else if (d.checkpointing !== undefined) {
    issues.push({ path: '/checkpointing', message: 'a batch job takes no checkpoints (its inputs are bounded and are read again after a failure); remove checkpointing, or use mode streaming' });
  }
  return issues;
}

/** Rules between a vertex's own fields that the schema cannot say. */
function vertexFieldRules(g: GraphView): DescriptorIssue[] {
  const issues: DescriptorIssue[] = [];
  for (const v of g.vertices) {
    if (v.operator === 'batch.join' && v.raw.strategy === 'broadcast-hash' && (v.raw.type === 'right' || v.raw.type === 'full')) {
      issues.push({ path: `/vertices/${v.index}/strategy`, message: `a broadcast-hash join cannot be a ${v.raw.type} outer join: every subtask holds all of input 2 and would emit its unmatched records once each; use 'sort-merge' or 'repartition-hash'` });
    }
    const { raw } = v;
    const assigner = isRecord(raw.assigner) ? raw.assigner : undefined;
    if ((v.operator === 'window' || v.operator === 'windowJoin') && assigner?.type === 'global' && raw.trigger === undefined) {
      issues.push({ path: `/vertices/${v.index}/trigger`, message: `a global window never ends, so only a trigger fires it: add "trigger": { "type": "count", "count": n }` });
    }
    if (v.operator === 'intervalJoin' && typeof raw.lowerMs === 'number' && typeof raw.upperMs === 'number') {
      if (raw.lowerMs > raw.upperMs) issues.push({ path: `/vertices/${v.index}/upperMs`, message: `must be at least lowerMs (${raw.lowerMs}), got ${raw.upperMs}` });
      else if (raw.lowerMs + (raw.lowerExclusive === true ? 1 : 0) > raw.upperMs - (raw.upperExclusive === true ? 1 : 0)) {
        issues.push({ path: `/vertices/${v.index}`, message: `the interval from ${raw.lowerMs} to ${raw.upperMs}, without its excluded bounds, holds no millisecond: nothing could ever join` });
      }
    }
  }
  return issues;
}

/** A two-input operator takes exactly one edge marked "input": 1 and one marked "input": 2. */
function twoInputRules(v: VertexView, inputs: EdgeView[], allEdgesReadable: boolean): DescriptorIssue[] {
  const described = `'${v.id}' (${v.operator})`;
  const issues: DescriptorIssue[] = [];
  for (const side of [1, 2]) {
    const edges = inputs.filter((e) => e.input === side);
    if (edges.length > 1) {
      issues.push({ path: `/edges/${edges[1]!.index}/input`, message: `${described} takes one edge as input ${side}; /edges/${edges[0]!.index} is one already` });
    }
    if (edges.length === 0 && allEdgesReadable) {
      issues.push({ path: `/vertices/${v.index}`, message: `${described} needs an edge with "input": ${side} (its ${side === 1 ? 'first' : 'second'} stream)` });
    }
  }
  for (const e of inputs) {
    if (e.input === undefined) issues.push({ path: `/edges/${e.index}`, message: `an edge into ${described} must say which input it is: "input": 1 or 2` });
  }
  return issues;
}

function sourcesAndSinks(g: GraphView): DescriptorIssue[] {
  if (!g.allVerticesReadable || g.vertices.some((v) => v.operator === undefined)) return [];
  const operators = g.vertices.map((v) => v.operator!);
  const issues: DescriptorIssue[] = [];
  if (!operators.some(isSource)) {
    issues.push({ path: '/vertices', message: `the job has no source; add a vertex with one of: ${OPERATORS.filter(isSource).join(', ')}` });
  }
  if (!operators.some(isSink)) {
    issues.push({ path: '/vertices', message: `the job has no sink; add a vertex with one of: ${OPERATORS.filter(isSink).join(', ')}` });
  }
  return issues;
}

function functionIssues(d: Record<string, unknown>): DescriptorIssue[] {
  const sources: { path: string; source: unknown }[] = [];
  if (Array.isArray(d.vertices)) {
    d.vertices.forEach((v, i) => {
      if (!isRecord(v)) return;
      for (const field of ['fn', 'fn1', 'fn2', 'reduce', 'process', 'onTimer', 'join', 'coGroup'] as const) sources.push({ path: `/vertices/${i}/${field}`, source: v[field] });
      if (isRecord(v.aggregate)) {
        for (const part of ['create', 'add', 'result', 'merge'] as const) sources.push({ path: `/vertices/${i}/aggregate/${part}`, source: v.aggregate[part] });
      }
      const keyed: [string, unknown][] = [['distinct/key', isRecord(v.distinct) ? v.distinct.key : undefined],
        ['topN/by', isRecord(v.topN) ? v.topN.by : undefined], ['sort/by', isRecord(v.sort) ? v.sort.by : undefined]];
      for (const [path, key] of keyed) if (isRecord(key)) sources.push({ path: `/vertices/${i}/${path}/fn`, source: key.fn });
      if (isRecord(v.watermarks) && isRecord(v.watermarks.timestamp)) {
        sources.push({ path: `/vertices/${i}/watermarks/timestamp/fn`, source: v.watermarks.timestamp.fn });
      }
    });
  }
  if (Array.isArray(d.edges)) {
    d.edges.forEach((e, i) => { if (isRecord(e) && isRecord(e.key)) sources.push({ path: `/edges/${i}/key/fn`, source: e.key.fn }); });
  }
  return sources.flatMap(({ path, source }) => {
    if (typeof source !== 'string' || source.trim() === '') return []; // wrong types and empty text are schema issues
    const error = checkUserFunctionSource(source);
    return error === null ? [] : [{ path, message: `the user function does not compile: ${error}` }];
  });
}

/** The generator's own rules (ranges, unknown fields), reported where the descriptor says them. */
function nexmarkIssues(d: Record<string, unknown>): DescriptorIssue[] {
  if (!Array.isArray(d.vertices)) return [];
  return d.vertices.flatMap((v, i) => {
    if (!isRecord(v) || v.operator !== 'source.nexmark' || !isRecord(v.config)) return [];
    try {
      resolveNexmarkConfig(v.config);
      return [];
    } catch (error) {
      return [{ path: `/vertices/${i}/config`, message: (error as Error).message }];
    }
  });
}

// A cross-field rule; each field's own limits are the schema's.
function restartStrategyIssues(d: Record<string, unknown>): DescriptorIssue[] {
  const s = d.restartStrategy;
  if (!isRecord(s) || s.type !== 'exponential-delay') return [];
  const { initialDelayMs: initial, maxDelayMs: max } = s;
  if (typeof initial !== 'number' || typeof max !== 'number' || max >= initial) return [];
  return [{ path: '/restartStrategy/maxDelayMs', message: `must be at least initialDelayMs (${initial}), got ${max}` }];
}

// ---- small helpers ----

function defaultPartition(from: VertexView | undefined, to: VertexView | undefined): Partitioning | undefined {
  if (from?.parallelism === undefined || to?.parallelism === undefined) return undefined;
  return from.parallelism === to.parallelism ? 'forward' : 'rebalance';
}

function partitioning(value: unknown): Partitioning | undefined {
  return (['forward', 'rebalance', 'hash', 'broadcast', 'custom'] as const).find((p) => p === value);
}

function positiveInteger(value: unknown): number | undefined {
  return Number.isInteger(value) && (value as number) >= 1 ? value as number : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pointer(base: string, property: string): string {
  return `${base}/${property.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return typeof value === 'string' ? `the string ${show(value)}` : show(value);
}

function article(type: unknown): string {
  return /^[aeiou]/.test(String(type)) ? `an ${String(type)}` : `a ${String(type)}`;
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? `'${value}'` : typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
