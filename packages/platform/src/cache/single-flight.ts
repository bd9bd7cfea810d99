/**
 * One load per key at a time: callers that miss the same key while its load runs wait for that
 * load instead of starting their own (the stampede a hot key causes when it expires). A flight
 * marked stale (its key was invalidated while it ran) still answers its callers, but tells the
 * cache not to store what it read: that may be the value from before the change.
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  /** The running flight for `key`, or a new one running `load` (handed its flight, to check `stale`). */
  run(key: string, load: (flight: Flight<T>) => Promise<T>): Flight<T> {
    const running = this.flights.get(key);
    if (running !== undefined) return running;
    const flight: Flight<T> = { stale: false, promise: Promise.resolve(undefined as T) };
    this.flights.set(key, flight);
    flight.promise = (async () => {
      try {
        return await load(flight);
      } finally {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      }
    })();
    return flight;
  }

  /** Marks the running flight of `key` stale and forgets it, so the next miss loads afresh. */
  invalidate(key: string): void {
    const flight = this.flights.get(key);
    if (flight === undefined) return;
    flight.stale = true;
    this.flights.delete(key);
  }

  invalidateAll(): void {
    for (const flight of this.flights.values()) flight.stale = true;
    this.flights.clear();
  }

  get inFlight(): number {
    return this.flights.size;
  }
}

export interface Flight<T> {
  promise: Promise<T>;
  /** Set when the key was invalidated during the load: answer with the result, do not store it. */
  stale: boolean;
}
