import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { checkNatsUrls } from './nats-urls.ts';
import { isPlainObject, joinPath, sourceOf } from './merge.ts';
import type { ConfigIssue } from './types.ts';

const SCHEMA_URL = new URL('../../config/config.schema.json', import.meta.url);

const SUBJECT_TOKEN = '^[A-Za-z0-9_-]+$';

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled === undefined) {
    const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as object;
    compiled = new Ajv({ allErrors: true, verbose: true, strict: true }).compile(schema);
  }
  return compiled;
}

/**
 * Every problem with the merged values: the schema, then the rules JSON Schema cannot say.
 * Normalises `nats.servers` in place (adds nats:// to host:port) so the result is ready to use.
 */
export function validateConfig(values: Record<string, unknown>, sources: ReadonlyMap<string, string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  normaliseServers(values, issues);
  const validate = validator();
  if (!validate(values)) issues.push(...(validate.errors ?? []).map(describe));
  // A value the schema already rejected needs no second complaint about how it relates to others.
  const rejected = new Set(issues.map((issue) => issue.path));
  issues.push(...crossFieldIssues(values, sources).filter((issue) => !issue.related.some((path) => rejected.has(path))));
  return issues.map(({ path, message, source = sourceOf(sources, path) }) => (source === undefined ? { path, message } : { path, message, source }));
}

function normaliseServers(values: Record<string, unknown>, issues: ConfigIssue[]): void {
  const nats = values.nats;
  if (!isPlainObject(nats)) return;
  const servers = nats.servers;
  const list = typeof servers === 'string' ? [servers] : servers;
  // Anything else (a number, a list of objects) is left for the schema to describe.
  if (!Array.isArray(list) || !list.every((s): s is string => typeof s === 'string')) return;
  const { urls, problems } = checkNatsUrls(list);
  if (problems.length > 0) issues.push({ path: 'nats.servers', message: problems.join('; ') });
  else nats.servers = urls;
}

function crossFieldIssues(values: Record<string, unknown>, sources: ReadonlyMap<string, string>): (ConfigIssue & { related: string[] })[] {
  const issues: (ConfigIssue & { related: string[] })[] = [];
  const heartbeat = isPlainObject(values.heartbeat) ? values.heartbeat : {};
  const { intervalMs, timeoutMs } = heartbeat;
  if (Number.isInteger(intervalMs) && Number.isInteger(timeoutMs) && (timeoutMs as number) <= (intervalMs as number)) {
    issues.push({
      path: 'heartbeat.timeoutMs',
      message: `must be greater than heartbeat.intervalMs (${String(intervalMs)}), got ${String(timeoutMs)}; ` +
        'otherwise a live task manager is declared lost between two beats',
      source: both(sources, 'heartbeat.timeoutMs', 'heartbeat.intervalMs'),
      related: ['heartbeat.timeoutMs', 'heartbeat.intervalMs'],
    });
  }
  const nats = isPlainObject(values.nats) ? values.nats : {};
  if (nats.pass !== undefined && nats.user === undefined) {
    issues.push({ path: 'nats.pass', message: 'is set without nats.user; a password needs a user name', related: ['nats.pass', 'nats.user'] });
  }
  const tls = isPlainObject(nats.tls) ? nats.tls : {};
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    const [set, missing] = tls.cert === undefined ? ['key', 'cert'] : ['cert', 'key'];
    issues.push({ path: `nats.tls.${set}`, message: `is set without nats.tls.${missing}; a client certificate needs both`, related: ['nats.tls.cert', 'nats.tls.key'] });
  }
  return issues;
}

function both(sources: ReadonlyMap<string, string>, a: string, b: string): string | undefined {
  const labels = [...new Set([sourceOf(sources, a), sourceOf(sources, b)].filter((l) => l !== undefined))];
  return labels.length === 0 ? undefined : labels.join(' and ');
}

function describe(error: ErrorObject): ConfigIssue {
  const path = pointerToPath(error.instancePath);
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String((error.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const guess = closest(key, known);
      const hint = guess !== undefined ? `did you mean '${guess}'?` : `known keys here: ${known.join(', ')}`;
      return { path: joinPath(path, key), message: `unknown key; ${hint}` };
    }
    case 'required': {
      const key = String((error.params as { missingProperty: string }).missingProperty);
      return { path: joinPath(path, key), message: 'is required' };
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.map(String);
      return { path, message: `must be one of ${allowed.join(', ')}, got ${show(error.data)}` };
    }
    case 'pattern': {
      const pattern = String((error.params as { pattern: string }).pattern);
      const rule = pattern === SUBJECT_TOKEN
        ? 'must be a NATS subject token: letters, digits, _ or - only'
        : `must match ${pattern}`;
      return { path, message: `${rule}, got ${show(error.data)}` };
    }
    default:
      return { path, message: `${error.message ?? 'is invalid'}, got ${show(error.data)}` };
  }
}

/** `/nats/servers/0` → `nats.servers[0]`: the path a user reads in a YAML file. */
function pointerToPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer.slice(1).split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, key) => (/^\d+$/.test(key) ? `${path}[${key}]` : joinPath(path, key)), '');
}

function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'a mapping';
  return String(value);
}

/** The known key a typo most likely meant, if any is close enough to suggest. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
