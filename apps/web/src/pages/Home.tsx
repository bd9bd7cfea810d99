import { api } from '../api';
import { categoryLabel } from '../format';
import { Link } from '../router';
import type { CategorySummary, Page, Product } from '../types';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { ProductCard } from '../ui/ProductCard';
import { useAsync } from '../useAsync';

const FEATURED = 10;

export function HomePage() {
  const categories = useAsync((signal) => api.get<{ items: CategorySummary[] }>('/api/v1/categories', { signal }), []);
  const featured = useAsync((signal) => api.get<Page<Product>>(`/api/v1/products?limit=${FEATURED}`, { signal }), []);
  return (
    <>
      <section className="hero">
        <PageTitle title="">Everything you need, from a shop that stays up.</PageTitle>
        <p className="lead">Browse the catalog, keep a cart and check out with a sandbox card: nothing is charged.</p>
        <Link to="/search" className="button">
          Browse all products
        </Link>
      </section>

      <section aria-labelledby="categories-heading">
        <h2 id="categories-heading">Shop by category</h2>
        {categories.loading ? <Loading label="Loading categories…" /> : null}
        <ErrorAlert error={categories.error} title="Categories could not be loaded." />
        {categories.data ? (
          <ul className="category-grid">
            {categories.data.items.map((c) => (
              <li key={c.category}>
                <Link to={`/search?category=${encodeURIComponent(c.category)}`} className="category-tile" data-hue={c.category.length % 12}>
                  <span className="category-name">{categoryLabel(c.category)}</span>
                  <span className="muted small">{c.productCount} products</span>
                </Link>
              </li>
            ))}
          </ul>
        ) : null}
      </section>

      <section aria-labelledby="new-heading">
        <h2 id="new-heading">New in</h2>
        {featured.loading ? <Loading label="Loading products…" /> : null}
        <ErrorAlert error={featured.error} title="Products could not be loaded." />
        {featured.data ? (
          <ul className="product-grid">
            {featured.data.items.map((p) => (
              <ProductCard key={p.id} product={p} />
            ))}
          </ul>
        ) : null}
      </section>
    </>
  );
}
