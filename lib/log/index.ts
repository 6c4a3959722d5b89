import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One root logger per node process, JSON to stderr so stdout stays for a command's output;
 * components take child loggers (node → actor → job → vertex → subtask).
 */
export function createLogger(bindings: Record<string, unknown> = {}, level = process.env.CLOUDFLINK_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination(2));
}

/** For library users and specs that want no output unless asked. */
export function silentLogger(): Logger {
  return pino({ level: process.env.CLOUDFLINK_LOG_LEVEL ?? 'silent' }, pino.destination(2));
}
