import { describe, expect, it } from 'vitest';
import { AppError } from '@agora/kernel';
import { inventory } from '@agora/contracts';
import { TRANSITIONS, normaliseLines, refusedTransition, replayRefusal, totalPerSku, type ReservationAction } from '../src/domain/reservation.js';

describe('reservation rules', () => {
  it('answers every action on every status: the move, a replay, or a 409', () => {
    const expected: Record<ReservationAction, Record<inventory.ReservationStatus, 'moves' | 'already-done' | 409>> = {
      commit: { HELD: 'moves', COMMITTED: 'already-done', RELEASED: 409, EXPIRED: 409, RESTOCKED: 409 },
      release: { HELD: 'moves', COMMITTED: 409, RELEASED: 'already-done', EXPIRED: 'already-done', RESTOCKED: 409 },
      restock: { HELD: 409, COMMITTED: 'moves', RELEASED: 409, EXPIRED: 409, RESTOCKED: 'already-done' },
    };
    for (const action of Object.keys(expected) as ReservationAction[]) {
      for (const status of inventory.RESERVATION_STATUSES) {
        const want = expected[action][status];
        if (want === 'moves') {
          expect(TRANSITIONS[action].from).toBe(status);
          continue;
        }
        const got = refusedTransition(action, 'r1', status);
        if (want === 'already-done') expect(got).toBe('already-done');
        else expect(got instanceof AppError && got.status === 409 && got.extras?.status === status).toBe(true);
      }
    }
  });

  it('refuses to reserve again under a released or expired id only', () => {
    expect(replayRefusal('r', 'RELEASED')?.code).toBe('CONFLICT');
    expect(replayRefusal('r', 'EXPIRED')?.code).toBe('CONFLICT');
    expect(replayRefusal('r', 'HELD')).toBeUndefined();
    expect(replayRefusal('r', 'COMMITTED')).toBeUndefined();
  });

  it('sorts lines by SKU and names a repeated SKU', () => {
    expect(normaliseLines([{ sku: 'b', quantity: 1 }, { sku: 'B', quantity: 2 }, { sku: 'a', quantity: 3 }]).map((l) => l.sku)).toEqual(['B', 'a', 'b']);
    expect(() => normaliseLines([{ sku: 'a', quantity: 1 }, { sku: 'a', quantity: 2 }])).toThrow(
      expect.objectContaining({ errors: [expect.objectContaining({ path: 'lines[1].sku' })] }),
    );
    expect(totalPerSku([{ sku: 'y', quantity: 1 }, { sku: 'x', quantity: 2 }, { sku: 'y', quantity: 3 }])).toEqual([
      { sku: 'x', quantity: 2 },
      { sku: 'y', quantity: 4 },
    ]);
  });
});
