/**
 * Resident memory of the cluster's processes, from /proc/<pid>/status (Linux): what each holds
 * now (VmRSS) and the most it ever held (VmHWM, the kernel's high-water mark).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Pids } from './cpu.ts';

export interface Memory {
  rssBytes: number;
  peakBytes: number;
}

/** One process's memory; undefined without /proc or once the process is gone. */
export function memoryOf(pid: number): Memory | undefined {
  const status = `/proc/${pid}/status`;
  if (!existsSync(status)) return undefined;
  let text: string;
  try {
    text = readFileSync(status, 'utf8');
  } catch {
    // Gone between the check and the read.
    return undefined;
  }
  const kB = (field: string): number | undefined => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const rssBytes = kB('VmRSS');
  const peakBytes = kB('VmHWM');
  return rssBytes === undefined || peakBytes === undefined ? undefined : { rssBytes, peakBytes };
}

/** Every named process's memory now, leaving out those without a reading. */
export function memoryOfAll(pids: Pids): Record<string, Memory> {
  const out: Record<string, Memory> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const memory = pid === undefined ? undefined : memoryOf(pid);
    if (memory) out[name] = memory;
  }
  return out;
}

export function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
