import { describe, expect, it } from 'vitest';
import type { Order } from '@agora/contracts/order';
import { FRESH_ANSWERS_MAX, FreshAnswers } from '../src/app/checkout/fresh-answers.js';

const order = (id: string): Order =>
  ({ id, userId: id, status: 'CONFIRMED', lines: [], total: { amount: 0, currency: 'USD' }, createdAt: '', updatedAt: '', history: [] }) as Order;

describe('FreshAnswers', () => {
  it('hands an order to the one token that put it, once', () => {
    const answers = new FreshAnswers();
    const a = answers.put(order('a'));
    const b = answers.put(order('b'));
    expect(a).not.toBe(b);
    expect(answers.take(b)?.id).toBe('b');
    expect(answers.take(b)).toBeUndefined();
    expect(answers.take('not-a-token')).toBeUndefined();
    expect(answers.take(a)?.id).toBe('a');
    expect(answers.size).toBe(0);
  });

  it('forgets the oldest past its bound (a drive whose request is gone never takes its answer)', () => {
    const answers = new FreshAnswers();
    const first = answers.put(order('first'));
    const tokens = Array.from({ length: FRESH_ANSWERS_MAX }, (_, i) => answers.put(order(`o${i}`)));
    expect(answers.size).toBe(FRESH_ANSWERS_MAX);
    expect(answers.take(first)).toBeUndefined();
    expect(answers.take(tokens.at(-1) ?? '')?.id).toBe(`o${FRESH_ANSWERS_MAX - 1}`);
  });
});
