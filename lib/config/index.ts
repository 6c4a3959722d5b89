/**
 * Configuration every component starts from: shipped defaults < file < environment < flags,
 * validated at start. The CLOUDFLINK_* variables are listed in env.ts.
 */
import type { CloudflinkConfig } from './types.ts';

export type { CloudflinkConfig, ConfigIssue, DeepPartial, LogLevel } from './types.ts';
export { loadConfig, DEFAULTS_URL, type LoadConfigOptions } from './load.ts';
export { parseNatsUrls } from './nats-urls.ts';
export { ENVIRONMENT, CONFIG_FILE_VARIABLE, type EnvironmentVariable } from './env.ts';

/** `<prefix>.<id>`: what every NATS subject of this cluster starts with. */
export function subjectBase(config: Pick<CloudflinkConfig, 'cluster'>): string {
  return `${config.cluster.prefix}.${config.cluster.id}`;
}
