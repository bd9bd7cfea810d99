import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, api } from '../api';
import { MAX_QUANTITY } from '../availability';
import { addToCart, useCart } from '../cart';
import { availabilityText, categoryLabel, formatMoney } from '../format';
import type { Params } from '../match';
import { Link, currentPath, navigate } from '../router';
import { useSession } from '../session';
import type { Product } from '../types';
import { Alert, ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { ProductCard } from '../ui/ProductCard';
import { ProductImage } from '../ui/ProductImage';
import { useAsync } from '../useAsync';

/** Related products shown under a product: one row on a desktop. */
const RELATED_SHOWN = 4;

export function ProductPage({ params }: { params: Params }) {
  const id = params.id ?? '';
  const product = useAsync((signal) => api.get<Product>(`/api/v1/products/${encodeURIComponent(id)}`, { signal }), [id]);
  const related = useAsync((signal) => api.get<{ items: Product[] }>(`/api/v1/products/${encodeURIComponent(id)}/related?limit=${RELATED_SHOWN}`, { signal }), [id]);
  const session = useSession();
  const cart = useCart();
  const [sku, setSku] = useState<string>('');
  const [quantity, setQuantity] = useState('1');
  const [adding, setAdding] = useState(false);
  const [added, setAdded] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    const first = product.data?.variants.find((v) => v.available > 0) ?? product.data?.variants[0];
    setSku(first?.sku ?? '');
  }, [product.data]);

  if (product.loading && !product.data) {
    return (
      <>
        <PageTitle title="Product">Product</PageTitle>
        <Loading label="Loading product…" />
      </>
    );
  }
  if (!product.data) {
    const missing = product.error instanceof ApiError && (product.error.status === 404 || product.error.status === 400);
    return (
      <>
        <PageTitle title="Product not found">{missing ? 'Product not found' : 'Product unavailable'}</PageTitle>
        {missing ? (
          <p>
            This product does not exist (any more). <Link to="/search">Search the catalog</Link>
          </p>
        ) : (
          <ErrorAlert error={product.error} />
        )}
      </>
    );
  }

  const p = product.data;
  const variant = p.variants.find((v) => v.sku === sku) ?? p.variants[0];
  // What is already in the cart counts: the cart may hold at most the stock (and the cart's limit).
  const inCart = cart?.items.find((line) => line.sku === variant?.sku)?.quantity ?? 0;
  const max = Math.min(MAX_QUANTITY, variant?.available ?? 0) - inCart;
  const qty = Number(quantity);
  const quantityError =
    !Number.isInteger(qty) || qty < 1
      ? 'Enter a whole number of at least 1.'
      : qty > max
        ? max <= 0
          ? `Your cart already holds ${inCart}, all that can be ordered.`
          : inCart > 0
            ? `Your cart already holds ${inCart}: at most ${max} more can be added.`
            : `At most ${max} can be ordered.`
        : undefined;
  const soldOut = (variant?.available ?? 0) <= 0;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!variant || quantityError || soldOut || adding) return;
    if (!session) {
      navigate(`/login?next=${encodeURIComponent(currentPath())}`);
      return;
    }
    setAdding(true);
    setError(undefined);
    setAdded(undefined);
    try {
      await addToCart(variant.sku, qty, `${p.name} (${variant.title})`);
      setAdded(`${qty} × ${p.name} — ${variant.title}`);
    } catch (err) {
      setError(err);
    } finally {
      setAdding(false);
    }
  };

  return (
    <>
    <article className="product-page">
      <div className="product-picture">
        <ProductImage product={p} variant="page" />
      </div>
      <div className="product-info">
        <p className="breadcrumbs small">
          <Link to={`/search?category=${encodeURIComponent(p.category)}`}>{categoryLabel(p.category)}</Link>
        </p>
        <PageTitle title={p.name}>{p.name}</PageTitle>
        <p className="product-price" aria-live="polite">
          {variant ? formatMoney(variant.price) : null}
          {variant ? <span className={`availability${soldOut ? ' out' : ''}`}>{availabilityText(variant.available)}</span> : null}
        </p>
        <p className="description">{p.description}</p>

        <form onSubmit={(e) => void submit(e)} className="add-form" noValidate>
          {p.variants.length > 1 ? (
            <fieldset className="variants">
              <legend>Choose an option</legend>
              {p.variants.map((v) => (
                <label key={v.sku} className={`variant${v.sku === variant?.sku ? ' selected' : ''}${v.available <= 0 ? ' sold-out' : ''}`}>
                  <input type="radio" name="variant" value={v.sku} checked={v.sku === variant?.sku} onChange={() => setSku(v.sku)} />
                  <span className="variant-title">{v.title}</span>
                  <span className="variant-price">{formatMoney(v.price)}</span>
                  <span className="variant-stock small">{availabilityText(v.available)}</span>
                </label>
              ))}
            </fieldset>
          ) : (
            <p className="muted small">Option: {variant?.title}</p>
          )}
          <div className={`field quantity-field${quantityError ? ' field-invalid' : ''}`}>
            <label htmlFor="quantity">Quantity</label>
            <input
              id="quantity"
              type="number"
              inputMode="numeric"
              min={1}
              max={Math.max(1, max)}
              value={quantity}
              onChange={(e) => setQuantity(e.target.value)}
              aria-invalid={quantityError ? true : undefined}
              aria-describedby={quantityError ? 'quantity-error' : undefined}
              disabled={soldOut}
            />
            {quantityError ? (
              <p className="field-error" id="quantity-error">
                {quantityError}
              </p>
            ) : null}
          </div>
          {/* aria-disabled, not disabled: a button disabled under the keyboard's focus (while adding) drops it to the page's top. */}
          <button type="submit" className="button" aria-disabled={adding || soldOut || quantityError !== undefined}>
            {soldOut ? 'Out of stock' : adding ? 'Adding…' : session ? 'Add to cart' : 'Sign in to add to cart'}
          </button>
          <p className="muted small">SKU {variant?.sku}</p>
        </form>
        {added ? (
          <Alert kind="success" title="Added to your cart">
            <p>
              {added}. <Link to="/cart">View cart</Link> or <Link to="/checkout">check out</Link>.
            </p>
          </Alert>
        ) : null}
        <ErrorAlert error={error} title="Could not add to cart." />
      </div>
    </article>
    {related.data && related.data.items.length > 0 ? (
      <section aria-labelledby="related-heading" className="related-products">
        <h2 id="related-heading">You may also like</h2>
        <ul className="product-grid">
          {related.data.items.map((item) => (
            <ProductCard key={item.id} product={item} />
          ))}
        </ul>
      </section>
    ) : null}
    </>
  );
}
