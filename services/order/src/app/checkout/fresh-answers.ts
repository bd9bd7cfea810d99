import { newId } from '@agora/kernel';
import type { Order } from '@agora/contracts/order';

/** Confirmations waiting for the request that drives them; past this, the oldest are forgotten (they are read back instead). */
export const FRESH_ANSWERS_MAX = 1_000;

/**
 * Orders this process has just confirmed, handed from the confirm step to the request that drives
 * the saga, so its 201 is built in memory instead of read back from the database. The step puts
 * the order here under a token that it also returns as its (checkpointed) result; the request
 * takes the order only if the committed outcome carries that token — proof that this process's
 * write is the one that committed. Anything else (a recovery drive, a lost lease) is left to
 * age out and the answer is read from the order row, where it is kept for replays anyway.
 */
export class FreshAnswers {
  private readonly byToken = new Map<string, Order>();

  put(order: Order): string {
    const token = newId();
    this.byToken.set(token, order);
    while (this.byToken.size > FRESH_ANSWERS_MAX) {
      const oldest = this.byToken.keys().next().value;
      if (oldest === undefined) break;
      this.byToken.delete(oldest);
    }
    return token;
  }

  take(token: string): Order | undefined {
    const order = this.byToken.get(token);
    this.byToken.delete(token);
    return order;
  }

  get size(): number {
    return this.byToken.size;
  }
}
