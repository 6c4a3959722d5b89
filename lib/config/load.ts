import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { CloudflinkError } from '../errors/index.ts';
import { CONFIG_FILE_VARIABLE, readEnvironment } from './env.ts';
import { isPlainObject, mergeLayers, type Layer } from './merge.ts';
import { validateConfig } from './validate.ts';
import type { CloudflinkConfig, ConfigIssue, DeepPartial } from './types.ts';

/** Shipped defaults, found next to the code rather than in the working directory. */
export const DEFAULTS_URL = new URL('../../config/cloudflink.yaml', import.meta.url);

export interface LoadConfigOptions {
  /** A YAML file layered over the defaults; without it, CLOUDFLINK_CONFIG names one, if set. */
  file?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** What command-line flags produce; wins over everything. Undefined values are ignored. */
  overrides?: DeepPartial<CloudflinkConfig>;
}

/**
 * Shipped defaults < the user's file < CLOUDFLINK_* environment < overrides (flags), validated as a whole.
 * Throws CONFIG_INVALID listing every problem with its path and where it was set.
 */
export function loadConfig(options: LoadConfigOptions = {}): CloudflinkConfig {
  const env = options.env ?? process.env;
  const defaultsPath = fileURLToPath(DEFAULTS_URL);
  const layers: Layer[] = [{ label: 'the shipped defaults (config/cloudflink.yaml)', values: readYamlFile(defaultsPath, 'the shipped defaults') }];

  const fromEnv = !options.file && Boolean(env[CONFIG_FILE_VARIABLE]);
  const file = options.file || env[CONFIG_FILE_VARIABLE];
  if (file) {
    const path = resolve(file);
    layers.push({ label: path, values: readYamlFile(path, fromEnv ? `named by ${CONFIG_FILE_VARIABLE}` : undefined) });
  }

  const environment = readEnvironment(env);
  layers.push({ label: 'the environment', values: environment.values, sources: environment.sources });
  if (options.overrides !== undefined) layers.push({ label: 'flags', values: options.overrides });

  const merged = mergeLayers(layers);
  const issues = [...environment.issues, ...validateConfig(merged.values, merged.sources)];
  // Stable sort: problems of one section read together, each source's order kept.
  if (issues.length > 0) throw configInvalid(issues.sort((a, b) => a.path.localeCompare(b.path)));
  return merged.values as unknown as CloudflinkConfig;
}

function configInvalid(issues: ConfigIssue[]): CloudflinkError {
  const lines = issues.map(({ path, message, source }) => {
    const where = source !== undefined && !message.includes(source) ? ` (set by ${source})` : '';
    return `  ${path || '(top level)'}: ${message}${where}`;
  });
  return new CloudflinkError('CONFIG_INVALID',
    `the configuration is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}\n` +
    `fix each where it is set: your config file (--config or ${CONFIG_FILE_VARIABLE}), a CLOUDFLINK_* environment ` +
    `variable or a flag; config/cloudflink.yaml lists every key with its default`,
    { data: { issues } });
}

function readYamlFile(path: string, why: string | undefined): Record<string, unknown> {
  const named = why === undefined ? `config file ${path}` : `config file ${path} (${why})`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'does not exist; check the path, or leave it out to use the defaults'
      : code === 'EISDIR' ? 'is a directory; name a YAML file'
        : `cannot be read: ${(error as Error).message}`;
    throw new CloudflinkError('CONFIG_INVALID', `${named} ${problem}`, { cause: error, data: { file: path } });
  }
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    throw new CloudflinkError('CONFIG_INVALID',
      `${named} is not valid YAML:\n${document.errors.map((e) => `  ${e.message.trim().split('\n').join('\n  ')}`).join('\n')}`,
      { data: { file: path } });
  }
  const values = document.toJS() as unknown;
  // An empty file (or one with every line commented out) means "no changes".
  if (values === null || values === undefined) return {};
  if (!isPlainObject(values)) {
    throw new CloudflinkError('CONFIG_INVALID',
      `${named} must be a mapping of sections (cluster:, nats:, heartbeat:, …), not ${Array.isArray(values) ? 'a list' : `'${String(values)}'`}`,
      { data: { file: path } });
  }
  return values;
}
