/**
 * Errors with a stable `code` that travel: flattened to plain objects for the wire and
 * rebuilt on the other node, so a client sees the same class the Job Manager threw.
 */

export type ErrorCode =
  | 'DESCRIPTOR_INVALID'
  | 'CLUSTER_FULL'
  | 'NO_SLOTS'
  | 'UDF_FAILED'
  | 'ASK_TIMEOUT'
  | 'NO_RESPONDERS'
  | 'NATS_UNREACHABLE'
  | 'JOB_NOT_FOUND'
  | 'TM_LOST'
  | 'PROTOCOL_MISMATCH'
  | 'CONFIG_INVALID'
  | 'JOB_FILE_INVALID'
  | 'TASK_FAILED'
  | 'FRAMES_LOST'
  | 'SHUFFLE_MISSING'
  | 'INTERNAL';

export interface WireError {
  name: string;
  code: ErrorCode;
  message: string;
  retryable: boolean;
  data?: unknown;
}

export class CloudflinkError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly data?: unknown;

  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; data?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.data = options.data;
  }

  toWire(): WireError {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable, data: this.data };
  }

  static fromWire(wire: WireError): CloudflinkError {
    const Class = ERROR_CLASSES[wire.code] ?? CloudflinkError;
    const error = Object.create(Class.prototype) as CloudflinkError;
    Object.assign(error, { name: wire.name, code: wire.code, message: wire.message, retryable: wire.retryable, data: wire.data });
    Object.defineProperty(error, 'stack', { value: `${wire.name}: ${wire.message}\n    (raised on a remote node)`, writable: true });
    return error;
  }

  /** Any thrown value, as a wire error; unknown errors become INTERNAL with their message. */
  static toWire(error: unknown): WireError {
    if (error instanceof CloudflinkError) return error.toWire();
    const message = error instanceof Error ? error.message : String(error);
    return { name: 'CloudflinkError', code: 'INTERNAL', message, retryable: false };
  }
}

export class DescriptorInvalidError extends CloudflinkError {
  constructor(issues: { path: string; message: string }[]) {
    super('DESCRIPTOR_INVALID',
      `the job descriptor is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
      issues.map((i) => `  ${i.path || '/'}: ${i.message}`).join('\n'),
      { data: { issues } });
  }

  /** Every problem with its path; survives the wire because it lives in `data`. */
  get issues(): { path: string; message: string }[] {
    return (this.data as { issues?: { path: string; message: string }[] } | undefined)?.issues ?? [];
  }
}

export class ClusterFullError extends CloudflinkError {
  constructor(max: number) {
    super('CLUSTER_FULL', `the cluster already has ${max} task managers, the maximum; stop one before adding another`);
  }
}

export class AskTimeoutError extends CloudflinkError {
  constructor(address: string, type: string, timeoutMs: number) {
    super('ASK_TIMEOUT', `no reply from ${address} to '${type}' within ${timeoutMs} ms; is that actor running?`, { retryable: true });
  }
}

export class NoRespondersError extends CloudflinkError {
  constructor(address: string) {
    super('NO_RESPONDERS', `nothing listens on ${address}; start it (for the Job Manager: 'cloudflink jobmanager' or 'cloudflink cluster up')`, { retryable: true });
  }
}

export class JobNotFoundError extends CloudflinkError {
  constructor(jobId: string) {
    super('JOB_NOT_FOUND', `no job with id '${jobId}'; 'cloudflink list' shows the known jobs`);
  }
}

const ERROR_CLASSES: Partial<Record<ErrorCode, typeof CloudflinkError>> = {
  CLUSTER_FULL: ClusterFullError as unknown as typeof CloudflinkError,
  ASK_TIMEOUT: AskTimeoutError as unknown as typeof CloudflinkError,
  NO_RESPONDERS: NoRespondersError as unknown as typeof CloudflinkError,
  JOB_NOT_FOUND: JobNotFoundError as unknown as typeof CloudflinkError,
  DESCRIPTOR_INVALID: DescriptorInvalidError as unknown as typeof CloudflinkError,
};
