import { checkNatsUrls } from './nats-urls.ts';
import type { ConfigIssue } from './types.ts';

/*
 * Environment variables, each overriding one key of the config file (flags override them):
 *
 *   variable                          key                     value
 *   CLOUDFLINK_CONFIG                 (the config file)       path of a YAML file layered over the defaults
 *   CLOUDFLINK_NATS                   nats.servers            comma-separated URLs; host:port means nats://host:port
 *   CLOUDFLINK_NATS_USER              nats.user               user name
 *   CLOUDFLINK_NATS_PASS              nats.pass               password (needs a user)
 *   CLOUDFLINK_NATS_TOKEN             nats.token              authentication token
 *   CLOUDFLINK_NATS_CREDS             nats.creds              path of a credentials file made by `nsc`
 *   CLOUDFLINK_NATS_TLS_CA            nats.tls.ca             path of the CA certificate
 *   CLOUDFLINK_NATS_TLS_CERT          nats.tls.cert           path of the client certificate (needs the key)
 *   CLOUDFLINK_NATS_TLS_KEY           nats.tls.key            path of the client key (needs the certificate)
 *   CLOUDFLINK_PREFIX                 cluster.prefix          first subject token: letters, digits, _ or -
 *   CLOUDFLINK_CLUSTER_ID             cluster.id              second subject token: letters, digits, _ or -
 *   CLOUDFLINK_SLOTS                  taskManager.slots       whole number >= 1
 *   CLOUDFLINK_HEARTBEAT_INTERVAL_MS  heartbeat.intervalMs    whole number of milliseconds
 *   CLOUDFLINK_HEARTBEAT_TIMEOUT_MS   heartbeat.timeoutMs     whole number of milliseconds, > the interval
 *   CLOUDFLINK_SLOT_WAIT_MS           jobManager.slotWaitMs   whole number of milliseconds
 *   CLOUDFLINK_CHECKPOINT_STORAGE     checkpoints.storage     directory or jetstream
 *   CLOUDFLINK_CHECKPOINT_DIR         checkpoints.directory   path of the checkpoint directory
 *   CLOUDFLINK_LOG_LEVEL              log.level               fatal, error, warn, info, debug, trace or silent
 *
 * An empty variable counts as unset: compose files and shells often pass `NAME=` to mean 'not given'.
 */

export interface EnvironmentVariable {
  name: string;
  /** The config key it sets, dotted. */
  path: string;
  kind: 'string' | 'integer' | 'urls';
}

/** The table above as data, for `--help` and the README. */
export const ENVIRONMENT: readonly EnvironmentVariable[] = [
  { name: 'CLOUDFLINK_NATS', path: 'nats.servers', kind: 'urls' },
  { name: 'CLOUDFLINK_NATS_USER', path: 'nats.user', kind: 'string' },
  { name: 'CLOUDFLINK_NATS_PASS', path: 'nats.pass', kind: 'string' },
  { name: 'CLOUDFLINK_NATS_TOKEN', path: 'nats.token', kind: 'string' },
  { name: 'CLOUDFLINK_NATS_CREDS', path: 'nats.creds', kind: 'string' },
  { name: 'CLOUDFLINK_NATS_TLS_CA', path: 'nats.tls.ca', kind: 'string' },
  { name: 'CLOUDFLINK_NATS_TLS_CERT', path: 'nats.tls.cert', kind: 'string' },
  { name: 'CLOUDFLINK_NATS_TLS_KEY', path: 'nats.tls.key', kind: 'string' },
  { name: 'CLOUDFLINK_PREFIX', path: 'cluster.prefix', kind: 'string' },
  { name: 'CLOUDFLINK_CLUSTER_ID', path: 'cluster.id', kind: 'string' },
  { name: 'CLOUDFLINK_SLOTS', path: 'taskManager.slots', kind: 'integer' },
  { name: 'CLOUDFLINK_HEARTBEAT_INTERVAL_MS', path: 'heartbeat.intervalMs', kind: 'integer' },
  { name: 'CLOUDFLINK_HEARTBEAT_TIMEOUT_MS', path: 'heartbeat.timeoutMs', kind: 'integer' },
  { name: 'CLOUDFLINK_SLOT_WAIT_MS', path: 'jobManager.slotWaitMs', kind: 'integer' },
  { name: 'CLOUDFLINK_CHECKPOINT_STORAGE', path: 'checkpoints.storage', kind: 'string' },
  { name: 'CLOUDFLINK_CHECKPOINT_DIR', path: 'checkpoints.directory', kind: 'string' },
  { name: 'CLOUDFLINK_LOG_LEVEL', path: 'log.level', kind: 'string' },
];

/** Names the config file; read by loadConfig, not a key of the configuration. */
export const CONFIG_FILE_VARIABLE = 'CLOUDFLINK_CONFIG';

export interface EnvironmentLayer {
  values: Record<string, unknown>;
  /** Config path → the variable that set it, for error hints. */
  sources: Map<string, string>;
  issues: ConfigIssue[];
}

/** The CLOUDFLINK_* variables as a partial config; a value that cannot be parsed is an issue and is left out. */
export function readEnvironment(env: NodeJS.ProcessEnv): EnvironmentLayer {
  const layer: EnvironmentLayer = { values: {}, sources: new Map(), issues: [] };
  for (const variable of ENVIRONMENT) {
    const raw = env[variable.name];
    if (raw === undefined || raw.trim() === '') continue;
    const parsed = parse(variable, raw);
    if ('problem' in parsed) {
      layer.issues.push({ path: variable.path, message: parsed.problem, source: variable.name });
      continue;
    }
    setPath(layer.values, variable.path, parsed.value);
    layer.sources.set(variable.path, variable.name);
  }
  return layer;
}

function parse(variable: EnvironmentVariable, raw: string): { value: unknown } | { problem: string } {
  switch (variable.kind) {
    case 'string':
      return { value: raw };
    case 'integer': {
      const text = raw.trim();
      if (!/^-?\d+$/.test(text)) return { problem: `${variable.name} must be a whole number, got '${raw}'` };
      return { value: Number(text) };
    }
    case 'urls': {
      const { urls, problems } = checkNatsUrls(raw);
      if (problems.length > 0) return { problem: `${variable.name}: ${problems.join('; ')}` };
      return { value: urls };
    }
    default: {
      const unreachable: never = variable.kind;
      throw new Error(`unknown environment variable kind ${String(unreachable)}`);
    }
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}
