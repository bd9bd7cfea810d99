import { useState, type FormEvent } from 'react';
import { ApiError, api } from '../api';
import { Link } from '../router';
import type { Page, Product } from '../types';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { useAsync } from '../useAsync';
import { useSettled } from './Products';
import { StockEditor } from './StockEditor';

const PAGE_SIZE = 20;

/** Stock per SKU: find products, set each variant's on-hand count; or go straight to a SKU. */
export function AdminStockPage() {
  const [text, setText] = useState('');
  const q = useSettled(text);
  const products = useAsync((signal) => api.get<Page<Product>>(`/api/v1/products?limit=${PAGE_SIZE}${q ? `&q=${encodeURIComponent(q)}` : ''}`, { signal }), [q]);
  const [sku, setSku] = useState('');
  const [lookedUp, setLookedUp] = useState<{ sku: string; available: number | undefined } | undefined>(undefined);
  const [lookupError, setLookupError] = useState<unknown>(undefined);

  const lookup = async (event: FormEvent) => {
    event.preventDefault();
    const wanted = sku.trim().toUpperCase();
    if (!wanted) return;
    setLookupError(undefined);
    try {
      const level = await api.get<{ sku: string; available: number }>(`/api/v1/inventory/${encodeURIComponent(wanted)}`);
      setLookedUp({ sku: level.sku, available: level.available });
    } catch (err) {
      // A SKU with no stock row yet can still be given stock.
      if (err instanceof ApiError && err.status === 404) setLookedUp({ sku: wanted, available: undefined });
      else setLookupError(err);
    }
  };

  return (
    <>
      <PageTitle title="Stock · Admin">Stock</PageTitle>
      <form className="inline-form" onSubmit={(e) => void lookup(e)}>
        <div className="field">
          <label htmlFor="stock-sku">Go to a SKU</label>
          <input id="stock-sku" value={sku} onChange={(e) => setSku(e.target.value)} autoComplete="off" placeholder="e.g. HOME-00042-STD" />
        </div>
        <button type="submit" className="button button-secondary">
          Look up
        </button>
      </form>
      <ErrorAlert error={lookupError} />
      {lookedUp ? (
        <div className="stock-lookup">
          <p>
            <code>{lookedUp.sku}</code>: {lookedUp.available === undefined ? 'no stock recorded yet' : `${lookedUp.available} available`}
          </p>
          <StockEditor key={lookedUp.sku} sku={lookedUp.sku} label={lookedUp.sku} onSaved={(level) => setLookedUp({ sku: level.sku, available: level.available })} />
        </div>
      ) : null}

      <h2>By product</h2>
      <div className="field search-field">
        <label htmlFor="stock-q">Find products</label>
        <input id="stock-q" type="search" value={text} onChange={(e) => setText(e.target.value)} autoComplete="off" />
      </div>
      <ErrorAlert error={products.error} />
      {products.loading && !products.data ? <Loading label="Loading products…" /> : null}
      <ul className="stock-products" aria-busy={products.loading}>
        {(products.data?.items ?? []).map((p) => (
          <li key={p.id}>
            <h3>
              <Link to={`/admin/products/${p.id}`}>{p.name}</Link>
            </h3>
            <ul className="stock-list">
              {p.variants.map((v) => (
                <li key={v.sku}>
                  <span>
                    <strong>{v.title}</strong> <code>{v.sku}</code>
                  </span>
                  <StockEditor sku={v.sku} label={`${p.name} ${v.title}`} />
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ul>
    </>
  );
}
