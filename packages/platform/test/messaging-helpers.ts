import { newId } from '@agora/kernel';
import type { events } from '@agora/contracts';

type EventEnvelope = events.EventEnvelope;

/** Polls until `check` holds; fails with `what` after a generous deadline (delivery is asynchronous). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function makeEvent(type: string, payload: unknown = { n: 1 }, key = 'key-1'): EventEnvelope {
  return { id: newId(), type, key, occurredAt: new Date().toISOString(), payload };
}

/** Records what a handler saw, in order. */
export class Received {
  readonly events: EventEnvelope[] = [];
  readonly handler = async (event: EventEnvelope): Promise<void> => {
    this.events.push(event);
  };
  ids(): string[] {
    return this.events.map((e) => e.id);
  }
  has(id: string): boolean {
    return this.events.some((e) => e.id === id);
  }
  count(id: string): number {
    return this.events.filter((e) => e.id === id).length;
  }
}

/** A latch a test opens to let a blocked handler finish. */
export function latch(): { wait: Promise<void>; open(): void } {
  let open: () => void = () => undefined;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}
