import { describe, expect, it } from 'vitest';
import { declineExplanation } from '../src/decline';

describe('declined payments in words', () => {
  it('explains the provider code instead of repeating "declined"', () => {
    expect(declineExplanation('Payment declined (card_declined)')).toBe('The bank that issued the card refused the payment.');
    expect(declineExplanation('payment declined (insufficient_funds)')).toBe('The card does not have enough funds for this order.');
    expect(declineExplanation('Payment declined (do_not_honor)')).toBe("The payment provider's reason: do not honor.");
    expect(declineExplanation('payment declined')).toBe('The payment provider did not say why.');
    expect(declineExplanation('payment could not be completed: timeout')).toBe('Payment could not be completed: timeout');
    expect(declineExplanation(undefined)).toBe('The payment provider did not say why.');
  });
});
