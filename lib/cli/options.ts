import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig, parseNatsUrls, subjectBase, type CloudflinkConfig, type DeepPartial, type LogLevel } from '../config/index.ts';
import { isAlive, readDetachedCluster } from '../cluster/state.ts';

/** Flags every command that talks to a cluster accepts; each overrides one config key. */
export interface ConnectionFlags {
  nats?: string;
  user?: string;
  pass?: string;
  token?: string;
  creds?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  prefix?: string;
  clusterId?: string;
  config?: string;
  logLevel?: LogLevel;
  heartbeatInterval?: number;
  heartbeatTimeout?: number;
}

export function positiveInteger(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number of at least 1, got '${value}'`);
    return n;
  };
}

export function withConnectionOptions(command: Command): Command {
  return command
    .option('--nats <urls>', 'NATS server URLs, comma-separated (env CLOUDFLINK_NATS)')
    .option('--user <user>', 'NATS user (env CLOUDFLINK_NATS_USER)')
    .option('--pass <password>', 'NATS password (env CLOUDFLINK_NATS_PASS)')
    .option('--token <token>', 'NATS token (env CLOUDFLINK_NATS_TOKEN)')
    .option('--creds <file>', 'NATS credentials file with JWT and nkey seed (env CLOUDFLINK_NATS_CREDS)')
    .option('--tls-ca <file>', 'CA certificate for TLS to NATS')
    .option('--tls-cert <file>', 'client certificate for TLS to NATS')
    .option('--tls-key <file>', 'client key for TLS to NATS')
    .option('--prefix <prefix>', 'subject prefix (default cf)')
    .option('--cluster-id <id>', 'cluster id, the second subject token (default default)')
    .option('--config <file>', 'YAML config file layered over config/cloudflink.yaml (env CLOUDFLINK_CONFIG)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addOption(new Option('--heartbeat-interval <ms>', 'heartbeat interval').argParser(positiveInteger('--heartbeat-interval')).hideHelp())
    .addOption(new Option('--heartbeat-timeout <ms>', 'heartbeat timeout').argParser(positiveInteger('--heartbeat-timeout')).hideHelp());
}

/**
 * Defaults < config file < environment < flags. When nothing names a NATS server, a
 * cluster started here with `cluster up --detach` is used if it is still alive.
 */
export function configFrom(flags: ConnectionFlags, extra: DeepPartial<CloudflinkConfig> = {}, env: NodeJS.ProcessEnv = process.env): CloudflinkConfig {
  const overrides: DeepPartial<CloudflinkConfig> = {
    ...extra,
    cluster: { prefix: flags.prefix, id: flags.clusterId },
    nats: {
      servers: flags.nats ? parseNatsUrls(flags.nats) : undefined,
      user: flags.user, pass: flags.pass, token: flags.token, creds: flags.creds,
      tls: flags.tlsCa || flags.tlsCert || flags.tlsKey ? { ca: flags.tlsCa, cert: flags.tlsCert, key: flags.tlsKey } : undefined,
    },
    heartbeat: { intervalMs: flags.heartbeatInterval, timeoutMs: flags.heartbeatTimeout },
    log: { level: flags.logLevel },
  };
  let config = loadConfig({ file: flags.config, env, overrides });
  if (!flags.nats && !env.CLOUDFLINK_NATS && !flags.config && !env.CLOUDFLINK_CONFIG) {
    const detached = readDetachedCluster(subjectBase(config));
    if (detached && isAlive(detached.pids.jobManager)) config = { ...config, nats: { ...config.nats, servers: [detached.natsUrl] } };
  }
  return config;
}
