import { availabilityText, categoryLabel, formatMoney } from '../format';
import { Link } from '../router';
import type { Product } from '../types';

function hue(text: string): number {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

/** A colour tile standing in for a photo: the catalog has none, and this costs no bytes. */
export function ProductArt({ product, large = false }: { product: Pick<Product, 'name' | 'category'>; large?: boolean }) {
  const initials = product.name
    .split(/\s+/)
    .filter((word) => /^[\p{L}\p{N}]/u.test(word))
    .slice(0, 2)
    .map((w) => w[0] ?? '')
    .join('');
  return (
    <div className={`product-art${large ? ' product-art-large' : ''}`} data-hue={hue(product.category) % 12} aria-hidden="true">
      <span>{initials}</span>
    </div>
  );
}

export function priceRange(product: Product): string {
  const prices = product.variants.map((v) => v.price);
  const first = prices[0];
  if (!first) return '';
  const min = prices.reduce((a, b) => (b.amount < a.amount ? b : a), first);
  const max = prices.reduce((a, b) => (b.amount > a.amount ? b : a), first);
  return min.amount === max.amount ? formatMoney(min) : `from ${formatMoney(min)}`;
}

export function ProductCard({ product }: { product: Product }) {
  const available = product.variants.reduce((sum, v) => sum + Math.max(0, v.available), 0);
  return (
    <li className="product-card">
      <ProductArt product={product} />
      <div className="product-card-body">
        <h3>
          <Link to={`/products/${product.id}`} className="stretched">
            {product.name}
          </Link>
        </h3>
        <p className="muted small">{categoryLabel(product.category)}</p>
        <p className="price">{priceRange(product)}</p>
        <p className={`availability small${available <= 0 ? ' out' : ''}`}>{availabilityText(available)}</p>
      </div>
    </li>
  );
}
