/**
 * Background work on an interval that must never overlap itself: a sweep, a reconciliation round.
 * A tick that finds the previous run still going is skipped, not queued; a failed run is handed to
 * `onError` and the next tick runs again. The timer is unref'd, so it never keeps a process alive.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Runs the task every `intervalMs` until `stop()`; a second `start` does nothing. */
  start(intervalMs: number): void {
    if (this.timer) return;
    if (!Number.isSafeInteger(intervalMs) || intervalMs < 1) throw new RangeError(`intervalMs must be a positive integer, got ${intervalMs}`);
    this.timer = setInterval(() => {
      this.running ??= this.run()
        .then(() => undefined, this.onError)
        .finally(() => {
          this.running = undefined;
        });
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress to finish. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
