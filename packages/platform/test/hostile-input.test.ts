import { describe, expect, it } from 'vitest';
import { unacceptableInput } from '../src/http/hostile-input.js';

describe('unacceptableInput', () => {
  it('passes ordinary bodies, including odd but storable text', () => {
    expect(unacceptableInput({ name: 'Zoë 🛒', lines: [{ sku: 'A', quantity: 1 }], note: null, n: 0 }, 32)).toBeUndefined();
    expect(unacceptableInput('plain text', 32)).toBeUndefined();
    expect(unacceptableInput([], 32)).toBeUndefined();
  });

  it('names the field that holds a NUL, in arrays and nested objects, and in property names', () => {
    expect(unacceptableInput({ lines: [{ sku: 'A' }, { sku: 'B\u0000' }] }, 32)).toEqual({ path: 'lines[1].sku', message: expect.stringContaining('U+0000') });
    expect(unacceptableInput({ shippingAddress: { name: '\u0000' } }, 32)?.path).toBe('shippingAddress.name');
    expect(unacceptableInput({ shippingAddress: { 'na\u0000me': 'x' } }, 32)?.path).toBe('shippingAddress.na\\u0000me');
    expect(unacceptableInput('\u0000', 32)?.path).toBe('body');
  });

  it('refuses nesting past the limit without recursing (100,000 levels)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(unacceptableInput({ x: deep }, 32)).toEqual({ path: `x${'[0]'.repeat(31)}`, message: 'is nested deeper than 32 levels' });
    let ok: unknown = 1;
    for (let i = 0; i < 31; i++) ok = { a: ok };
    expect(unacceptableInput(ok, 32)).toBeUndefined();
  });
});
