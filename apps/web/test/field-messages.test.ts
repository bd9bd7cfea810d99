import { describe, expect, it } from 'vitest';
import { humanFieldMessage } from '../src/field-messages';

describe('field messages', () => {
  it('puts the validator\'s rules in words and keeps other messages as written', () => {
    expect(humanFieldMessage('must match format "email"')).toBe('Enter an e-mail address like name@example.com.');
    expect(humanFieldMessage('must NOT have fewer than 8 characters')).toBe('Use at least 8 characters.');
    expect(humanFieldMessage('must NOT have fewer than 1 characters')).toBe('This cannot be empty.');
    expect(humanFieldMessage('must NOT have more than 200 characters')).toBe('Use at most 200 characters.');
    expect(humanFieldMessage('SKU TEE-1 is taken')).toBe('SKU TEE-1 is taken.');
  });
});
