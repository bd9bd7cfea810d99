import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AppError, LIMITS, isUuid, newId } from '@agora/kernel';
import { catalog } from '@agora/contracts';
import { decodeCursor, encodeCursor, type CursorPosition } from '../src/domain/cursor.js';
import { listingOf, matchKey, pageKey } from '../src/domain/listing.js';
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

/** Any position a cursor can carry: every sort, any id, any key its sort allows. */
const positions: fc.Arbitrary<CursorPosition> = fc.oneof(
  fc.record({ sort: fc.constant('newest' as const), id: fc.uuid() }),
  fc.record({ sort: fc.constantFrom('relevance' as const, 'price_asc' as const, 'price_desc' as const), id: fc.uuid(), key: fc.nat() }),
  fc.record({ sort: fc.constant('name' as const), id: fc.uuid(), key: fc.string({ unit: 'binary', maxLength: LIMITS.productNameChars }) }),
);

describe('cursor', () => {
  it('round-trips every position it encodes, for its own sort, within the cursor limit', () => {
    fc.assert(
      fc.property(positions, (position) => {
        const cursor = encodeCursor(position);
        expect(cursor.length).toBeLessThanOrEqual(catalog.PRODUCT_CURSOR_CHARS);
        expect(decodeCursor(cursor, position.sort)).toEqual({ ...position, id: position.id.toLowerCase() });
      }),
    );
    const id = newId();
    expect(decodeCursor(encodeCursor({ sort: 'newest', id }), 'newest')).toEqual({ sort: 'newest', id });
  });

  it('the longest name key still fits the cursor limit', () => {
    const cursor = encodeCursor({ sort: 'name', id: newId(), key: '\u0001'.repeat(LIMITS.productNameChars) });
    expect(cursor.length).toBeLessThanOrEqual(catalog.PRODUCT_CURSOR_CHARS);
  });

  it('newest-first cursors keep the format issued before sorts existed', () => {
    const id = newId();
    expect(encodeCursor({ sort: 'newest', id })).toBe(Buffer.from(`p1:${id}`).toString('base64url'));
  });

  it('refuses a cursor made for another sort, naming cursor', () => {
    fc.assert(
      fc.property(positions, fc.constantFrom(...catalog.PRODUCT_SORTS), (position, sort) => {
        fc.pre(sort !== position.sort);
        const err = failure(() => decodeCursor(encodeCursor(position), sort));
        expect(err.errors?.[0]?.path).toBe('cursor');
      }),
    );
  });

  it('refuses anything it did not make, naming cursor', () => {
    const texts = fc.oneof(
      fc.string({ maxLength: 80 }),
      // Well-formed base64url of near-miss positions: wrong versions, keys, ids, JSON.
      fc.string({ maxLength: 120 }).map((t) => Buffer.from(`p2:${t}`).toString('base64url')),
      fc.tuple(fc.constantFrom(...catalog.PRODUCT_SORTS, 'other'), fc.uuid(), fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)))
        .map((value) => Buffer.from(`p2:${JSON.stringify(value)}`).toString('base64url')),
    );
    fc.assert(
      fc.property(texts, fc.constantFrom(...catalog.PRODUCT_SORTS), (text, sort) => {
        let decoded: CursorPosition | undefined;
        try {
          decoded = decodeCursor(text, sort);
        } catch (err) {
          expect(err).toBeInstanceOf(AppError);
          expect((err as AppError).code).toBe('VALIDATION_FAILED');
          expect((err as AppError).errors?.[0]?.path).toBe('cursor');
          return;
        }
        expect(isUuid(decoded.id)).toBe(true);
        expect(decoded.sort).toBe(sort);
        expect(encodeCursor(decoded)).toBe(text);
      }),
    );
  });
});

describe('listing query', () => {
  it('defaults: newest first without q, relevance with it, 20 per page', () => {
    expect(listingOf({})).toMatchObject({ sort: 'newest', limit: LIMITS.pageSizeDefault, after: undefined, empty: false });
    expect(listingOf({ q: 'lamp' }).sort).toBe('relevance');
    expect(listingOf({ q: '   ' }).sort).toBe('newest');
    // Without search text every product ranks alike: relevance is newest first.
    expect(listingOf({ sort: 'relevance' }).sort).toBe('newest');
    expect(listingOf({ q: 'lamp', sort: 'price_asc' }).sort).toBe('price_asc');
  });

  it('checks the price bounds, naming the field', () => {
    expect(listingOf({ minPrice: 100, maxPrice: 100 }).match).toMatchObject({ minPrice: 100, maxPrice: 100 });
    expect(failure(() => listingOf({ minPrice: 101, maxPrice: 100 })).errors?.[0]?.path).toBe('minPrice');
    expect(failure(() => listingOf({ minPrice: -1 })).errors?.[0]?.path).toBe('minPrice');
    expect(failure(() => listingOf({ maxPrice: 1.5 })).errors?.[0]?.path).toBe('maxPrice');
    expect(failure(() => listingOf({ limit: 0 })).errors?.[0]?.path).toBe('limit');
  });

  it('any bounds: accepted exactly when min <= max', () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), (min, max) => {
        if (min <= max) expect(listingOf({ minPrice: min, maxPrice: max }).match).toMatchObject({ minPrice: min, maxPrice: max });
        else expect(failure(() => listingOf({ minPrice: min, maxPrice: max })).errors?.[0]?.path).toBe('minPrice');
      }),
    );
  });

  it('a cursor is read for the sort the query asks for', () => {
    const cursor = encodeCursor({ sort: 'price_asc', id: newId(), key: 1999 });
    expect(listingOf({ sort: 'price_asc', cursor }).after).toMatchObject({ sort: 'price_asc', key: 1999 });
    expect(failure(() => listingOf({ sort: 'name', cursor })).errors?.[0]?.path).toBe('cursor');
    expect(failure(() => listingOf({ cursor })).errors?.[0]?.path).toBe('cursor');
  });

  it('a category that is no slug matches nothing', () => {
    expect(listingOf({ category: 'Not A Slug' }).empty).toBe(true);
    expect(listingOf({ category: ' lamps ' })).toMatchObject({ empty: false, match: { category: 'lamps' } });
  });

  it('cache keys: pages differ by every parameter; the count key ignores order, size and position', () => {
    const base = listingOf({ q: 'lamp', category: 'lamps', minPrice: 1, maxPrice: 9 });
    const variants = [
      listingOf({ q: 'lamps', category: 'lamps', minPrice: 1, maxPrice: 9 }),
      listingOf({ q: 'lamp', category: 'desks', minPrice: 1, maxPrice: 9 }),
      listingOf({ q: 'lamp', category: 'lamps', minPrice: 2, maxPrice: 9 }),
      listingOf({ q: 'lamp', category: 'lamps', minPrice: 1, maxPrice: 8 }),
      listingOf({ q: 'lamp', category: 'lamps', maxPrice: 9 }),
      listingOf({ q: 'lamp', category: 'lamps', minPrice: 1 }),
    ];
    for (const other of variants) {
      expect(matchKey(other.match)).not.toBe(matchKey(base.match));
      expect(pageKey(other)).not.toBe(pageKey(base));
    }
    const reordered = [
      listingOf({ q: 'lamp', category: 'lamps', minPrice: 1, maxPrice: 9, sort: 'name' }),
      listingOf({ q: 'lamp', category: 'lamps', minPrice: 1, maxPrice: 9, limit: 5 }),
      listingOf({ q: 'lamp', category: 'lamps', minPrice: 1, maxPrice: 9, cursor: encodeCursor({ sort: 'relevance', id: newId(), key: 5 }) }),
    ];
    for (const other of reordered) {
      expect(matchKey(other.match)).toBe(matchKey(base.match));
      expect(pageKey(other)).not.toBe(pageKey(base));
    }
    expect(pageKey(listingOf({ q: ' lamp ', category: 'lamps ', minPrice: 1, maxPrice: 9 }))).toBe(pageKey(base));
  });
});

describe('search terms', () => {
  it('blank is no search', () => {
    expect(searchTermsOf(undefined)).toBeUndefined();
    expect(searchTermsOf('  \t ')).toBeUndefined();
    expect(searchTermsOf('\u0000')).toBeUndefined();
  });

  it('builds a prefix query on the last word from letters and digits only', () => {
    expect(searchTermsOf('Wireless HEADPH')).toEqual({ text: 'Wireless HEADPH', prefixHead: 'wireless', prefixLast: 'headph:*', fuzzyWords: ['wireless', 'headph'] });
    expect(searchTermsOf("'; drop table x; --")).toEqual({ text: "'; drop table x; --", prefixHead: 'drop & table', prefixLast: 'x:*', fuzzyWords: ['drop', 'table', 'x'] });
    expect(searchTermsOf('%_\\')).toEqual({ text: '%_\\', prefixHead: '', prefixLast: undefined, fuzzyWords: [] });
  });

  it('typo-tolerant words: lowercased, once each, without stop words or search operators', () => {
    expect(searchTermsOf('Wirless wirless HEADPHONES')?.fuzzyWords).toEqual(['wirless', 'headphones']);
    expect(searchTermsOf('the lamp with a shade')?.fuzzyWords).toEqual(['lamp', 'shade']);
    expect(searchTermsOf('the')?.fuzzyWords).toEqual([]);
    expect(searchTermsOf('quokka -lamp')?.fuzzyWords).toEqual([]);
    expect(searchTermsOf('"obsidian shade"')?.fuzzyWords).toEqual([]);
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
        for (const word of terms.fuzzyWords) expect(word).toMatch(/^[\p{L}\p{N}]+$/u);
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
