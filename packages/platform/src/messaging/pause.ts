/**
 * A sleep that can be cut short: background loops (the outbox relay, a NATS subscriber waiting to
 * resubscribe) wait between rounds, and a poke or a stop wakes them at once instead of after the
 * full interval.
 */
export class WakeablePause {
  private wakeCurrent: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeCurrent = undefined;
        resolve();
      }, ms);
      this.wakeCurrent = () => {
        clearTimeout(timer);
        this.wakeCurrent = undefined;
        resolve();
      };
    });
  }

  /** Ends the sleep in progress, if any. */
  wake(): void {
    this.wakeCurrent?.();
  }
}
