import { useEffect, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import { api, isAbort } from '../api';
import { announce } from '../announce';
import { categoryLabel, moneyInputOf, parseMoneyInput } from '../format';
import { navigate, useLocation, useSearchParams } from '../router';
import type { CategorySummary, Page, Product } from '../types';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { ProductCard } from '../ui/ProductCard';
import { useAsync } from '../useAsync';

const PAGE_SIZE = 24;
/** A page of products with the number that match across every page. */
type ProductPage = Page<Product> & { total?: number };
/** Wait this long after the last keystroke before asking: one request per pause, not per key. */
const TYPING_DEBOUNCE_MS = 200;

/** The orders a shopper can pick; '' is the API's default (best match with words, newest without). */
const SORTS = [
  { value: '', label: 'Best match' },
  { value: 'newest', label: 'Newest' },
  { value: 'price_asc', label: 'Price: low to high' },
  { value: 'price_desc', label: 'Price: high to low' },
  { value: 'name', label: 'Name: A to Z' },
] as const;

/** Sort and price bounds as the URL keeps them (bounds in minor units, as the API takes them); '' when unset. */
interface Filters {
  sort: string;
  minPrice: string;
  maxPrice: string;
}

function filtersOf(params: URLSearchParams): Filters {
  const sort = params.get('sort') ?? '';
  const bound = (name: string) => {
    const value = params.get(name) ?? '';
    return /^\d{1,12}$/.test(value) ? value : '';
  };
  return { sort: SORTS.some((s) => s.value === sort) ? sort : '', minPrice: bound('minPrice'), maxPrice: bound('maxPrice') };
}

function setFilters(params: URLSearchParams, filters: Filters): void {
  if (filters.sort) params.set('sort', filters.sort);
  if (filters.minPrice) params.set('minPrice', filters.minPrice);
  if (filters.maxPrice) params.set('maxPrice', filters.maxPrice);
}

function productsUrl(q: string, category: string, filters: Filters, cursor?: string): string {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (q) params.set('q', q);
  if (category) params.set('category', category);
  setFilters(params, filters);
  if (cursor) params.set('cursor', cursor);
  return `/api/v1/products?${params.toString()}`;
}

function searchUrl(q: string, category: string, filters: Filters): string {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (category) params.set('category', category);
  setFilters(params, filters);
  const query = params.toString();
  return query ? `/search?${query}` : '/search';
}

const keyOf = (q: string, category: string, filters: Filters): string => [q, category, filters.sort, filters.minPrice, filters.maxPrice].join('\u0000');

interface Results {
  key: string;
  items: Product[];
  nextCursor: string | null;
  /** How many products match, across every page (the API's `total`). */
  total: number | undefined;
}

/**
 * The results last shown for each search (query and category), "Load more" pages included: Back
 * from a product shows them again as they were, at the same scroll position, instead of the
 * first page from the top. Only read on Back/Forward; a new visit asks afresh.
 */
const shown = new Map<string, Results>();
/** Enough for a session's worth of Back; the oldest search is forgotten first. */
const SHOWN_LIMIT = 20;

function remember(results: Results): void {
  shown.delete(results.key);
  shown.set(results.key, results);
  if (shown.size > SHOWN_LIMIT) shown.delete(shown.keys().next().value ?? '');
}

export function SearchPage() {
  const params = useSearchParams();
  const urlQ = params.get('q') ?? '';
  const category = params.get('category') ?? '';
  const filters = filtersOf(params);
  const { sort, minPrice, maxPrice } = filters;
  const [minText, setMinText] = useState(minPrice ? moneyInputOf(Number(minPrice)) : '');
  const [maxText, setMaxText] = useState(maxPrice ? moneyInputOf(Number(maxPrice)) : '');
  const [priceError, setPriceError] = useState<string | undefined>(undefined);
  const [text, setText] = useState(urlQ);
  const [q, setQ] = useState(urlQ.trim());
  const location = useLocation();
  // Back to this search: start from what was shown (and skip the first request).
  const [restored] = useState(() => (location.pop ? shown.get(keyOf(urlQ.trim(), category, filters)) : undefined));
  const skipFirstLoad = useRef(restored !== undefined);
  const [results, setResultsState] = useState<Results | undefined>(restored);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(restored === undefined);
  const setResults = (next: Results) => {
    remember(next);
    setResultsState(next);
  };

  useLayoutEffect(() => {
    if (restored && location.scrollY !== undefined) window.scrollTo(0, location.scrollY);
    // Once, on the render that shows the restored results.
  }, []);
  const [loadingMore, setLoadingMore] = useState(false);
  const categories = useAsync((signal) => api.get<{ items: CategorySummary[] }>('/api/v1/categories', { signal }), []);
  const lastUrlQ = useRef(urlQ);

  // Back/forward (or the header search) changed the query in the URL: follow it.
  useEffect(() => {
    if (urlQ === lastUrlQ.current) return;
    lastUrlQ.current = urlQ;
    setText(urlQ);
    setQ(urlQ.trim());
  }, [urlQ]);

  // Results as you type: the query settles after a short pause, then the URL follows quietly.
  useEffect(() => {
    const timer = window.setTimeout(() => {
      const next = text.trim();
      setQ(next);
      if (next !== urlQ.trim()) {
        lastUrlQ.current = next;
        navigate(searchUrl(next, category, filters), { replace: true, quiet: true });
      }
    }, TYPING_DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [text, category, urlQ, sort, minPrice, maxPrice]);

  // Back/forward changed the price bounds in the URL: the fields follow.
  useEffect(() => {
    setMinText(minPrice ? moneyInputOf(Number(minPrice)) : '');
    setMaxText(maxPrice ? moneyInputOf(Number(maxPrice)) : '');
  }, [minPrice, maxPrice]);

  useEffect(() => {
    if (skipFirstLoad.current) {
      skipFirstLoad.current = false;
      return;
    }
    const controller = new AbortController();
    const key = keyOf(q, category, filters);
    setLoading(true);
    setError(undefined);
    api.get<ProductPage>(productsUrl(q, category, filters), { signal: controller.signal }).then(
      (page) => {
        setResults({ key, items: page.items, nextCursor: page.nextCursor, total: page.total });
        setLoading(false);
        const count = page.total === undefined ? `${page.items.length}${page.nextCursor ? '+' : ''}` : String(page.total);
        announce(page.items.length === 0 ? 'No products found.' : `${count} ${count === '1' ? 'product' : 'products'} found.`);
      },
      (err: unknown) => {
        if (isAbort(err)) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [q, category, sort, minPrice, maxPrice]);

  const loadMore = async () => {
    if (!results?.nextCursor) return;
    setLoadingMore(true);
    try {
      const page = await api.get<ProductPage>(productsUrl(q, category, filters, results.nextCursor));
      setResults({ key: results.key, items: [...results.items, ...page.items], nextCursor: page.nextCursor, total: page.total ?? results.total });
      announce(`${page.items.length} more products loaded.`);
    } catch (err) {
      setError(err);
    } finally {
      setLoadingMore(false);
    }
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setQ(text.trim());
  };

  /** Sort and bounds go to the URL (Back restores them); the results follow the URL. */
  const applyFilters = (next: Filters) => navigate(searchUrl(text.trim(), category, next), { replace: true, quiet: true });

  const applyPrices = (event: FormEvent) => {
    event.preventDefault();
    const min = minText.trim() ? parseMoneyInput(minText) : undefined;
    const max = maxText.trim() ? parseMoneyInput(maxText) : undefined;
    if ((minText.trim() && min === undefined) || (maxText.trim() && max === undefined)) {
      setPriceError('Enter prices like 10 or 24.99.');
      return;
    }
    if (min !== undefined && max !== undefined && min > max) {
      setPriceError('The lowest price must not be above the highest.');
      return;
    }
    setPriceError(undefined);
    applyFilters({ sort, minPrice: min === undefined ? '' : String(min), maxPrice: max === undefined ? '' : String(max) });
  };

  const summary = (shownResults: Results): string => {
    if (shownResults.items.length === 0) return 'No products match. Try another word, category or price.';
    const noun = (n: number) => (n === 1 ? 'product' : 'products');
    const words = q ? ` for “${q}”` : '';
    if (shownResults.total !== undefined) {
      return shownResults.total === shownResults.items.length
        ? `${shownResults.total} ${noun(shownResults.total)}${words}`
        : `Showing ${shownResults.items.length} of ${shownResults.total} ${noun(shownResults.total)}${words}`;
    }
    return `Showing ${shownResults.items.length}${shownResults.nextCursor ? '+' : ''} ${noun(shownResults.items.length)}${words}`;
  };

  const heading = category ? categoryLabel(category) : 'Search products';
  return (
    <>
      <PageTitle title={q ? `“${q}”` : heading}>{heading}</PageTitle>
      <form role="search" className="search-form" onSubmit={submit}>
        <div className="field search-field">
          <label htmlFor="search-q">Search products</label>
          <input
            id="search-q"
            type="search"
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="Try “lamp”, “coffee” or “jacket”"
            autoComplete="off"
            aria-controls="search-results"
            maxLength={200}
          />
        </div>
        <div className="field">
          <label htmlFor="search-category">Category</label>
          <select id="search-category" value={category} onChange={(e) => navigate(searchUrl(text.trim(), e.target.value, filters), { replace: true, quiet: true })}>
            <option value="">All categories</option>
            {(categories.data?.items ?? []).map((c) => (
              <option key={c.category} value={c.category}>
                {categoryLabel(c.category)} ({c.productCount})
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="search-sort">Sort by</label>
          <select id="search-sort" value={sort} onChange={(e) => applyFilters({ ...filters, sort: e.target.value })}>
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.value === '' && !q ? 'Newest (default)' : s.label}
              </option>
            ))}
          </select>
        </div>
      </form>
      <form className="price-filter" onSubmit={applyPrices} noValidate aria-label="Price range">
        <div className={`field${priceError ? ' field-invalid' : ''}`}>
          <label htmlFor="search-min-price">Lowest price</label>
          <input id="search-min-price" inputMode="decimal" placeholder="0.00" value={minText} onChange={(e) => setMinText(e.target.value)} aria-invalid={priceError ? true : undefined} aria-describedby={priceError ? 'price-error' : undefined} />
        </div>
        <div className={`field${priceError ? ' field-invalid' : ''}`}>
          <label htmlFor="search-max-price">Highest price</label>
          <input id="search-max-price" inputMode="decimal" placeholder="any" value={maxText} onChange={(e) => setMaxText(e.target.value)} aria-invalid={priceError ? true : undefined} aria-describedby={priceError ? 'price-error' : undefined} />
        </div>
        <button type="submit" className="button button-secondary">
          Apply prices
        </button>
        {minPrice || maxPrice ? (
          <button
            type="button"
            className="link-button"
            onClick={() => {
              setPriceError(undefined);
              applyFilters({ ...filters, minPrice: '', maxPrice: '' });
            }}
          >
            Any price
          </button>
        ) : null}
        {priceError ? (
          <p className="field-error" id="price-error">
            {priceError}
          </p>
        ) : null}
      </form>

      <section id="search-results" aria-label="Results" aria-busy={loading}>
        <ErrorAlert error={error} title="Search failed." />
        {loading && !results ? <Loading label="Searching…" /> : null}
        {results ? (
          <>
            <p className="muted results-summary">
              {loading ? 'Updating…' : summary(results)}
            </p>
            <ul className={`product-grid${loading ? ' stale' : ''}`}>
              {results.items.map((p) => (
                <ProductCard key={p.id} product={p} />
              ))}
            </ul>
            {results.nextCursor ? (
              <button type="button" className="button button-secondary load-more" onClick={() => void loadMore()} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : 'Load more'}
              </button>
            ) : null}
          </>
        ) : null}
      </section>
    </>
  );
}
