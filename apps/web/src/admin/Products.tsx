import { useEffect, useState } from 'react';
import { api } from '../api';
import { categoryLabel } from '../format';
import { Link } from '../router';
import type { Page, Product } from '../types';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { priceRange } from '../ui/ProductCard';
import { useAsync } from '../useAsync';
import { useFreshAvailability } from './stock-changes';
import { ProductImage } from '../ui/ProductImage';

const PAGE_SIZE = 50;

function url(q: string, cursor?: string): string {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (q) params.set('q', q);
  if (cursor) params.set('cursor', cursor);
  return `/api/v1/products?${params.toString()}`;
}

/** A search box whose value settles after a short pause (results as you type, one request per pause). */
export function useSettled(value: string, ms = 250): string {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value.trim()), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export function AdminProductsPage() {
  const [text, setText] = useState('');
  const q = useSettled(text);
  const first = useAsync((signal) => api.get<Page<Product>>(url(q), { signal }), [q]);
  const [more, setMore] = useState<{ q: string; items: Product[]; nextCursor: string | null } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const extra = more?.q === q ? more : undefined;
  const items = [...(first.data?.items ?? []), ...(extra?.items ?? [])];
  const cursor = extra ? extra.nextCursor : (first.data?.nextCursor ?? null);
  const fresh = useFreshAvailability(items.flatMap((p) => p.variants.map((v) => v.sku)));

  const loadMore = async () => {
    if (!cursor) return;
    try {
      const page = await api.get<Page<Product>>(url(q, cursor));
      setMore({ q, items: [...(extra?.items ?? []), ...page.items], nextCursor: page.nextCursor });
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <div className="title-row">
        <PageTitle title="Products · Admin">Products</PageTitle>
        <Link to="/admin/products/new" className="button">
          New product
        </Link>
      </div>
      <div className="field search-field">
        <label htmlFor="admin-product-q">Find products</label>
        <input id="admin-product-q" type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="Name, description or category" autoComplete="off" />
      </div>
      <ErrorAlert error={first.error ?? error} />
      {first.loading && !first.data ? <Loading label="Loading products…" /> : null}
      {first.data ? (
        <div className="table-wrap" aria-busy={first.loading}>
          <table>
            <caption className="visually-hidden">Products</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Category</th>
                <th scope="col">Variants (SKU · available)</th>
                <th scope="col" className="num">
                  Price
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((p) => (
                <tr key={p.id}>
                  <th scope="row" className="admin-product-name">
                    <ProductImage product={p} variant="thumb" />
                    <Link to={`/admin/products/${p.id}`}>{p.name}</Link>
                  </th>
                  <td>{categoryLabel(p.category)}</td>
                  <td className="small">
                    {p.variants.map((v) => (
                      <span key={v.sku} className="block">
                        <code>{v.sku}</code> · {fresh.get(v.sku) ?? v.available}
                      </span>
                    ))}
                  </td>
                  <td className="num">{priceRange(p)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {items.length === 0 ? <p className="muted">No products match.</p> : null}
        </div>
      ) : null}
      {cursor ? (
        <button type="button" className="button button-secondary load-more" onClick={() => void loadMore()}>
          Load more
        </button>
      ) : null}
    </>
  );
}
