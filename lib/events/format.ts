import type { LifecycleEvent } from './types.ts';

/** One human-readable line per event, for `cloudflink events` and `run --wait`. */
export function formatEvent(event: LifecycleEvent): string {
  const time = event.at.slice(11, 23);
  // Causes carry user error messages, which may span lines; an event stays on one.
  const cause = 'cause' in event && event.cause ? `  (${oneLine(event.cause)})` : '';
  switch (event.type) {
    case 'job.state':
      return `${time}  job  ${event.jobId} ${event.jobName}: ${event.from ?? '∅'} → ${event.to}${cause}`;
    case 'job.failover':
      return `${time}  job  ${event.jobId} ${event.jobName}: re-running ${event.tasks.map((t) => `${t.vertexName} (${t.subtask + 1}/${t.parallelism})`).join(', ')} in ${event.delayMs} ms${cause}`;
    case 'job.rejected':
      return `${time}  job  ${event.jobId}${event.jobName ? ` ${event.jobName}` : ''} REJECTED: ${oneLine(event.issues.map((i) => `${i.path || '/'}: ${i.message}`).join('; '))}`;
    case 'task.state':
      return `${time}  task ${event.jobId} ${event.vertexName} (${event.subtask + 1}/${event.parallelism})${event.tmId ? ` @${event.tmId}` : ''}: ${event.from ?? '∅'} → ${event.to}${cause}`;
    case 'checkpoint.triggered':
      return `${time}  chk  ${event.jobId} ${event.savepoint ? 'savepoint' : 'checkpoint'} ${event.checkpointId} triggered`;
    case 'checkpoint.completed':
      return `${time}  chk  ${event.jobId} ${event.savepoint ? 'savepoint' : 'checkpoint'} ${event.checkpointId} completed: ${event.size} bytes in ${event.durationMs} ms (alignment ${event.alignmentMs} ms) at ${event.pointer}`;
    case 'checkpoint.failed':
      return `${time}  chk  ${event.jobId} ${event.savepoint ? 'savepoint' : 'checkpoint'} ${event.checkpointId} FAILED: ${oneLine(event.reason)}`;
    case 'tm.registered':
      return `${time}  tm   ${event.tmId} registered with ${event.slots} slot${event.slots === 1 ? '' : 's'}`;
    case 'tm.lost':
      return `${time}  tm   ${event.tmId} LOST${cause}`;
    case 'tm.refused':
      return `${time}  tm   ${event.tmId} REFUSED${cause}`;
    default: {
      const never: never = event;
      return JSON.stringify(never);
    }
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ⏎ ');
}
