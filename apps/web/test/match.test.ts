import { describe, expect, it } from 'vitest';
import { matchPath, safeNext } from '../src/match';
import { categoryLabel, parseMoneyInput } from '../src/format';

describe('client routes', () => {
  it('matches patterns with parameters and nothing else', () => {
    expect(matchPath('/products/:id', '/products/01a1-ff')).toEqual({ id: '01a1-ff' });
    expect(matchPath('/products/:id', '/products/a%20b/')).toEqual({ id: 'a b' });
    expect(matchPath('/products/:id', '/products')).toBeNull();
    expect(matchPath('/products/:id', '/products/%E0%A4%A')).toBeNull();
    expect(matchPath('/', '/')).toEqual({});
    expect(matchPath('/products/:id(uuid)', '/products/01a25184-7d19-77ba-91ca-29219aa4e256')).toEqual({ id: '01a25184-7d19-77ba-91ca-29219aa4e256' });
    expect(matchPath('/products/:id(uuid)', '/products/not-a-uuid')).toBeNull();
    expect(matchPath('/products/:id(uuid)', '/products/01a25184-7d19-77ba-91ca-29219aa4e25')).toBeNull();
  });

  it('only returns to in-app paths after signing in', () => {
    expect(safeNext('/checkout')).toBe('/checkout');
    expect(safeNext('//evil.example/x')).toBe('/');
    expect(safeNext('https://evil.example')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});

describe('formatting', () => {
  it('reads prices typed by an admin as integer minor units', () => {
    expect(parseMoneyInput('12.5')).toBe(1250);
    expect(parseMoneyInput(' 19.99 ')).toBe(1999);
    expect(parseMoneyInput('7')).toBe(700);
    expect(parseMoneyInput('1.999')).toBeUndefined();
    expect(parseMoneyInput('-1')).toBeUndefined();
    expect(parseMoneyInput('abc')).toBeUndefined();
  });

  it('labels categories', () => {
    expect(categoryLabel('home-kitchen')).toBe('Home & Kitchen');
    expect(categoryLabel('toys')).toBe('Toys');
  });
});
