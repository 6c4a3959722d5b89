import { parseArgs } from 'node:util';

/** String flags with their defaults; `--help`/`-h` is added. */
export type FlagSpec = Record<string, { default?: string }>;

/**
 * A script's command line: parsed flags, `--help` answered with the usage, and every
 * mistake answered with a message, the usage and exit status 2.
 */
export function commandLine(flags: FlagSpec, usage: string) {
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n${usage}`);
    process.exit(2);
  };
  const options = Object.fromEntries(Object.entries(flags).map(([name, { default: value }]) =>
    [name, value === undefined ? { type: 'string' as const } : { type: 'string' as const, default: value }]));
  let values: Record<string, string | boolean | undefined> = {};
  try {
    ({ values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  /** A flag's value as a number of at least `min` (a whole one unless `whole` is false). */
  const number = (flag: string, { min = 1, whole = true }: { min?: number; whole?: boolean } = {}): number => {
    const value = String(values[flag]);
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || (whole && !Number.isInteger(n))) {
      fail(`--${flag} expects a ${whole ? 'whole ' : ''}number of at least ${min}, got '${value}'`);
    }
    return n;
  };
  const text = (flag: string): string | undefined => values[flag] as string | undefined;
  return { text, number, fail };
}
