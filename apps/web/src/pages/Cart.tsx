import { useEffect, useState } from 'react';
import { itemsText, refreshCart, removeFromCart, setCartQuantity, useCart } from '../cart';
import { formatMoney } from '../format';
import { Link } from '../router';
import type { CartLine } from '../types';
import { Alert, ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';

const MAX_QUANTITY = 99;
const QUANTITY_SETTLE_MS = 600;

function lineLabel(line: CartLine): string {
  return line.productName ? `${line.productName} (${line.title})` : line.title;
}

function CartRow({ line, unavailable, onError }: { line: CartLine; unavailable: boolean; onError: (err: unknown) => void }) {
  const [quantity, setQuantity] = useState(String(line.quantity));
  const [busy, setBusy] = useState(false);
  useEffect(() => setQuantity(String(line.quantity)), [line.quantity]);
  const label = lineLabel(line);

  const commit = async (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > MAX_QUANTITY || n === line.quantity) {
      setQuantity(String(line.quantity));
      return;
    }
    setBusy(true);
    try {
      await setCartQuantity(line.sku, n, label);
    } catch (err) {
      onError(err);
      setQuantity(String(line.quantity));
    } finally {
      setBusy(false);
    }
  };

  // A changed quantity is saved once typing (or the spinner) pauses; Enter and leaving the field save at once.
  useEffect(() => {
    if (busy || quantity === String(line.quantity) || quantity.trim() === '') return;
    const timer = window.setTimeout(() => void commit(quantity), QUANTITY_SETTLE_MS);
    return () => window.clearTimeout(timer);
    // `commit` closes over this render's line; the values it reads are the deps.
  }, [quantity, line.quantity, busy]);

  const remove = async () => {
    setBusy(true);
    try {
      await removeFromCart(line.sku, label);
    } catch (err) {
      onError(err);
      setBusy(false);
    }
  };

  const inputId = `qty-${line.sku}`;
  return (
    <li className={`cart-line${unavailable ? ' unavailable' : ''}`} aria-busy={busy}>
      <div className="cart-line-main">
        <Link to={`/products/${line.productId}`} className="cart-line-name">
          {line.productName ?? line.title}
        </Link>
        <span className="muted small">
          {line.productName ? `${line.title} · ` : ''}SKU {line.sku} · {formatMoney(line.unitPrice)} each
        </span>
        {unavailable ? <span className="field-error">No longer available in this quantity.</span> : null}
      </div>
      <div className="cart-line-qty">
        <label htmlFor={inputId} className="visually-hidden">
          Quantity of {label}
        </label>
        <input
          id={inputId}
          type="number"
          inputMode="numeric"
          min={0}
          max={MAX_QUANTITY}
          value={quantity}
          disabled={busy}
          onChange={(e) => setQuantity(e.target.value)}
          onBlur={(e) => void commit(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              void commit(e.currentTarget.value);
            }
          }}
        />
        <button type="button" className="link-button" onClick={() => void remove()} disabled={busy}>
          Remove <span className="visually-hidden">{label}</span>
        </button>
      </div>
      <div className="cart-line-total">{formatMoney(line.lineTotal)}</div>
    </li>
  );
}

export function CartPage() {
  const cart = useCart();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    refreshCart().then(
      () => setLoading(false),
      (err: unknown) => {
        setError(err);
        setLoading(false);
      },
    );
  }, []);

  const unavailable = new Set(cart?.unavailable ?? []);
  return (
    <>
      <PageTitle title="Your cart">Your cart</PageTitle>
      <ErrorAlert error={error} />
      {loading && !cart ? <Loading label="Loading your cart…" /> : null}
      {cart && cart.items.length === 0 ? (
        <div className="empty">
          <p>Your cart is empty.</p>
          <Link to="/search" className="button">
            Find something
          </Link>
        </div>
      ) : null}
      {cart && cart.items.length > 0 ? (
        <div className="cart-layout">
          <ul className="cart-lines" aria-label="Items in your cart">
            {cart.items.map((line) => (
              <CartRow key={line.sku} line={line} unavailable={unavailable.has(line.sku)} onError={setError} />
            ))}
          </ul>
          <aside className="summary" aria-label="Order summary">
            <p className="summary-row">
              <span>Subtotal ({itemsText(cart.itemCount)})</span>
              <strong>{formatMoney(cart.subtotal)}</strong>
            </p>
            <p className="muted small">Shipping is free in the sandbox. Prices are confirmed at checkout.</p>
            {unavailable.size > 0 ? <Alert kind="warning" title="Some items are no longer available. Remove them or lower the quantity to check out." /> : null}
            <Link to="/checkout" className="button button-block">
              Check out
            </Link>
          </aside>
        </div>
      ) : null}
    </>
  );
}
