import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AppError, isUuid, newId } from '@agora/kernel';
import { decodeCursor, encodeCursor } from '../src/domain/cursor.js';
import { normalizeFields, normalizeVariants } from '../src/domain/product.js';
import { searchTermsOf } from '../src/domain/search.js';
import { DEMO_CATEGORIES, demoProducts } from '../src/demo-data.js';

const failure = (work: () => unknown): AppError => {
  try {
    work();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
};

describe('cursor', () => {
  it('round-trips every id it encodes', () => {
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        expect(decodeCursor(encodeCursor(id))).toBe(id.toLowerCase());
      }),
    );
    const id = newId();
    expect(decodeCursor(encodeCursor(id))).toBe(id);
  });

  it('refuses anything it did not make, naming cursor', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        let decoded: string | undefined;
        try {
          decoded = decodeCursor(text);
        } catch (err) {
          expect(err).toBeInstanceOf(AppError);
          expect((err as AppError).code).toBe('VALIDATION_FAILED');
          expect((err as AppError).errors?.[0]?.path).toBe('cursor');
          return;
        }
        expect(isUuid(decoded)).toBe(true);
        expect(encodeCursor(decoded)).toBe(text);
      }),
    );
  });
});

describe('search terms', () => {
  it('blank is no search', () => {
    expect(searchTermsOf(undefined)).toBeUndefined();
    expect(searchTermsOf('  \t ')).toBeUndefined();
    expect(searchTermsOf('\u0000')).toBeUndefined();
  });

  it('builds a prefix query on the last word from letters and digits only', () => {
    expect(searchTermsOf('Wireless HEADPH')).toEqual({ text: 'Wireless HEADPH', prefixHead: 'wireless', prefixLast: 'headph:*' });
    expect(searchTermsOf("'; drop table x; --")).toEqual({ text: "'; drop table x; --", prefixHead: 'drop & table', prefixLast: 'x:*' });
    expect(searchTermsOf('%_\\')).toEqual({ text: '%_\\', prefixHead: '', prefixLast: undefined });
  });

  it('leaves operator queries to websearch alone', () => {
    expect(searchTermsOf('quokka -lamp')?.prefixLast).toBeUndefined();
    expect(searchTermsOf('"obsidian shade"')?.prefixLast).toBeUndefined();
    expect(searchTermsOf('tea or coffee')?.prefixLast).toBeUndefined();
  });

  it('never lets a to_tsquery operator or a control character through (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (q) => {
        const terms = searchTermsOf(q);
        if (!terms) return;
        expect(terms.text).not.toMatch(/\p{Cc}/u);
        const pieces = [...terms.prefixHead.split(' & ').filter((p) => p.length > 0), terms.prefixLast?.replace(/:\*$/, '') ?? ''];
        for (const piece of pieces) expect(piece).toMatch(/^[\p{L}\p{N}]*$/u);
      }),
    );
  });
});

describe('product rules', () => {
  const v = (sku: string, amount: number, currency = 'USD') => ({ sku, title: 'T', price: { amount, currency } });

  it('trims and refuses blank names', () => {
    expect(normalizeFields({ name: '  Mug ', description: ' d ' })).toEqual({ name: 'Mug', description: 'd' });
    expect(failure(() => normalizeFields({ name: ' ' })).errors?.[0]?.path).toBe('name');
  });

  it('requires one currency per product', () => {
    const err = failure(() => normalizeVariants([v('A', 1), v('B', 1, 'EUR'), v('C', 1, 'GBP')]));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.errors?.map((e) => e.path)).toEqual(['variants[1].price.currency', 'variants[2].price.currency']);
  });

  it('refuses a SKU twice with CONFLICT naming it', () => {
    const err = failure(() => normalizeVariants([v('A', 1), v('B', 1), v('A', 2)]));
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toContain('A');
    expect(err.errors?.[0]?.path).toBe('variants[2].sku');
  });

  it('refuses no variants and negative or fractional amounts', () => {
    expect(failure(() => normalizeVariants([])).errors?.[0]?.path).toBe('variants');
    expect(failure(() => normalizeVariants([v('A', -1)])).errors?.[0]?.path).toBe('variants[0].price.amount');
    expect(failure(() => normalizeVariants([v('A', 1.5)])).errors?.[0]?.path).toBe('variants[0].price.amount');
  });
});

describe('demo data', () => {
  const demo = demoProducts(1_200);

  it('is deterministic', () => {
    expect(demoProducts(1_200)).toEqual(demo);
    expect(demoProducts(10)).toEqual(demo.slice(0, 10));
  });

  it('is plausible: unique valid SKUs, 1-3 variants, USD integer prices, >= 12 categories', () => {
    const skus = demo.flatMap((p) => p.variants.map((x) => x.sku));
    expect(new Set(skus).size).toBe(skus.length);
    for (const sku of skus) expect(sku).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
    for (const p of demo) {
      expect(p.variants.length).toBeGreaterThanOrEqual(1);
      expect(p.variants.length).toBeLessThanOrEqual(3);
      expect(p.name.length).toBeGreaterThan(3);
      expect(p.description.length).toBeGreaterThan(20);
      expect(p.category).toMatch(/^[a-z0-9][a-z0-9-]*$/);
      for (const x of p.variants) {
        expect(Number.isSafeInteger(x.price.amount)).toBe(true);
        expect(x.price.amount).toBeGreaterThanOrEqual(99);
        expect(x.price.currency).toBe('USD');
      }
    }
    expect(new Set(demo.map((p) => p.category)).size).toBe(DEMO_CATEGORIES.length);
    expect(DEMO_CATEGORIES.length).toBeGreaterThanOrEqual(12);
    expect(demo.some((p) => p.variants.length === 3)).toBe(true);
    expect(demo.some((p) => p.variants.length === 1)).toBe(true);
  });
});
