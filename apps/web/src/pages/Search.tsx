import { useEffect, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import { api, isAbort } from '../api';
import { announce } from '../announce';
import { categoryLabel } from '../format';
import { navigate, useLocation, useSearchParams } from '../router';
import type { CategorySummary, Page, Product } from '../types';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { ProductCard } from '../ui/ProductCard';
import { useAsync } from '../useAsync';

const PAGE_SIZE = 24;
/** Wait this long after the last keystroke before asking: one request per pause, not per key. */
const TYPING_DEBOUNCE_MS = 200;

function productsUrl(q: string, category: string, cursor?: string): string {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (q) params.set('q', q);
  if (category) params.set('category', category);
  if (cursor) params.set('cursor', cursor);
  return `/api/v1/products?${params.toString()}`;
}

function searchUrl(q: string, category: string): string {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (category) params.set('category', category);
  const query = params.toString();
  return query ? `/search?${query}` : '/search';
}

interface Results {
  key: string;
  items: Product[];
  nextCursor: string | null;
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
  const [text, setText] = useState(urlQ);
  const [q, setQ] = useState(urlQ.trim());
  const location = useLocation();
  // Back to this search: start from what was shown (and skip the first request).
  const [restored] = useState(() => (location.pop ? shown.get(`${urlQ.trim()}\u0000${category}`) : undefined));
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
        navigate(searchUrl(next, category), { replace: true, quiet: true });
      }
    }, TYPING_DEBOUNCE_MS);
    return () => window.clearTimeout(timer);
  }, [text, category, urlQ]);

  useEffect(() => {
    if (skipFirstLoad.current) {
      skipFirstLoad.current = false;
      return;
    }
    const controller = new AbortController();
    const key = `${q}\u0000${category}`;
    setLoading(true);
    setError(undefined);
    api.get<Page<Product>>(productsUrl(q, category), { signal: controller.signal }).then(
      (page) => {
        setResults({ key, items: page.items, nextCursor: page.nextCursor });
        setLoading(false);
        const count = `${page.items.length}${page.nextCursor ? '+' : ''}`;
        announce(page.items.length === 0 ? 'No products found.' : `${count} ${count === '1' ? 'product' : 'products'} found.`);
      },
      (err: unknown) => {
        if (isAbort(err)) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [q, category]);

  const loadMore = async () => {
    if (!results?.nextCursor) return;
    setLoadingMore(true);
    try {
      const page = await api.get<Page<Product>>(productsUrl(q, category, results.nextCursor));
      setResults({ key: results.key, items: [...results.items, ...page.items], nextCursor: page.nextCursor });
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
          <select id="search-category" value={category} onChange={(e) => navigate(searchUrl(text.trim(), e.target.value), { replace: true, quiet: true })}>
            <option value="">All categories</option>
            {(categories.data?.items ?? []).map((c) => (
              <option key={c.category} value={c.category}>
                {categoryLabel(c.category)} ({c.productCount})
              </option>
            ))}
          </select>
        </div>
      </form>

      <section id="search-results" aria-label="Results" aria-busy={loading}>
        <ErrorAlert error={error} title="Search failed." />
        {loading && !results ? <Loading label="Searching…" /> : null}
        {results ? (
          <>
            <p className="muted results-summary">
              {loading ? 'Updating…' : results.items.length === 0 ? 'No products match. Try another word or category.' : `Showing ${results.items.length}${results.nextCursor ? '+' : ''} ${results.items.length === 1 && !results.nextCursor ? 'product' : 'products'}${q ? ` for “${q}”` : ''}`}
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
