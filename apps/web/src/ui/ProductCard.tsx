import { availabilityText, categoryLabel, formatMoney } from '../format';
import { Link } from '../router';
import type { Product } from '../types';
import { ProductImage } from './ProductImage';

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
      <ProductImage product={product} variant="card" />
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
