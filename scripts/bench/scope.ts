/** Cleanup steps, run last-in first-out and once: after the run, after a failure, or on Ctrl-C. */
export class Scope {
  private readonly steps: { label: string; run: () => unknown }[] = [];
  private closing?: Promise<void>;

  defer(label: string, run: () => unknown): void {
    if (this.closing) throw new Error(`cannot defer '${label}': the scope is already closing`);
    this.steps.push({ label, run });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (let step = this.steps.pop(); step; step = this.steps.pop()) {
        try {
          await step.run();
        } catch (error) {
          // One failed step must not leave the others' processes or files behind.
          process.stderr.write(`cleanup: ${step.label} failed: ${(error as Error).message}\n`);
        }
      }
    })();
    return this.closing;
  }
}
