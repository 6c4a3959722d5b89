/**
 * What `action` leaves unhandled, with stacks. Mocha swallows a rejection from user code
 * (it re-emits it to no one), while a node process started with the CLI would die of it.
 */
export async function unhandledRejectionsDuring(action: () => Promise<void>): Promise<string[]> {
  const seen = new Set<unknown>();
  const listener = (reason: unknown): void => { seen.add(reason); };
  process.prependListener('unhandledRejection', listener);
  try {
    await action();
    // Give rejected asks a few turns to run their handlers.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  } finally {
    process.removeListener('unhandledRejection', listener);
  }
  return [...seen].map((e) => (e instanceof Error ? e.stack ?? e.message : String(e)));
}
