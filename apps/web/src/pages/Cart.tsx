import { useEffect, useRef, useState } from 'react';
import { availabilityOf, MAX_QUANTITY, quantityProblem } from '../availability';
import { itemsText, refreshCart, removeFromCart, setCartQuantity, useCart } from '../cart';
import { formatMoney } from '../format';
import { Link } from '../router';
import type { CartLine } from '../types';
import { Alert, ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { useAsync } from '../useAsync';

const QUANTITY_SETTLE_MS = 600;

function lineLabel(line: CartLine): string {
  return line.productName ? `${line.productName} (${line.title})` : line.title;
}

interface RowProps {
  line: CartLine;
  /** Units that can be bought now; undefined until known. */
  available: number | undefined;
  onError: (err: unknown) => void;
  /** The line left the cart (Remove, or quantity 0): the page moves focus on. */
  onRemoved: () => void;
}

function CartRow({ line, available, onError, onRemoved }: RowProps) {
  const [quantity, setQuantity] = useState(String(line.quantity));
  const [busy, setBusy] = useState(false);
  useEffect(() => setQuantity(String(line.quantity)), [line.quantity]);
  const label = lineLabel(line);
  // A quantity that cannot be bought is not sent: the message beside the field says why and the
  // typed value stays for the shopper to correct (the saved line may be over the stock too).
  const problem = quantityProblem(quantity, available);

  const commit = async (value: string) => {
    if (busy || quantityProblem(value, available) || Number(value) === line.quantity) return;
    const n = Number(value);
    setBusy(true);
    try {
      await setCartQuantity(line.sku, n, label);
      if (n === 0) onRemoved();
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
  }, [quantity, line.quantity, busy, available]);

  const remove = async () => {
    if (busy) return;
    setBusy(true);
    try {
      await removeFromCart(line.sku, label);
      onRemoved();
    } catch (err) {
      onError(err);
      setBusy(false);
    }
  };

  const inputId = `qty-${line.sku}`;
  const errorId = `${inputId}-error`;
  return (
    <li className={`cart-line${problem ? ' unavailable' : ''}`} aria-busy={busy}>
      <div className="cart-line-main">
        <Link to={`/products/${line.productId}`} className="cart-line-name">
          {line.productName ?? line.title}
        </Link>
        <span className="muted small">
          {line.productName ? `${line.title} · ` : ''}SKU {line.sku} · {formatMoney(line.unitPrice)} each
        </span>
        {problem ? (
          <span className="field-error" id={errorId}>
            {problem}
          </span>
        ) : null}
      </div>
      <div className="cart-line-qty">
        <label htmlFor={inputId} className="visually-hidden">
          Quantity of {label}
        </label>
        {/* Read-only, not disabled, while saving: a disabled field would drop keyboard focus. */}
        <input
          id={inputId}
          type="number"
          inputMode="numeric"
          min={0}
          max={Math.min(MAX_QUANTITY, Math.max(available ?? MAX_QUANTITY, line.quantity))}
          value={quantity}
          readOnly={busy}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? errorId : undefined}
          onChange={(e) => setQuantity(e.target.value)}
          onBlur={(e) => void commit(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              void commit(e.currentTarget.value);
            }
          }}
        />
        <button type="button" className="link-button" data-remove onClick={() => void remove()} aria-disabled={busy}>
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
  /** Where the removed line was, so focus goes to its neighbour once the list has re-rendered. */
  const [removedAt, setRemovedAt] = useState<number | undefined>(undefined);
  const listRef = useRef<HTMLUListElement>(null);
  const emptyRef = useRef<HTMLAnchorElement>(null);
  const skus = (cart?.items ?? []).map((line) => line.sku).join(' ');
  const stock = useAsync((signal) => availabilityOf(skus ? skus.split(' ') : [], signal), [skus]);

  useEffect(() => {
    refreshCart().then(
      () => setLoading(false),
      (err: unknown) => {
        setError(err);
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    if (removedAt === undefined) return;
    const buttons = listRef.current?.querySelectorAll<HTMLButtonElement>('button[data-remove]') ?? [];
    const next = buttons[Math.min(removedAt, buttons.length - 1)];
    if (next) next.focus();
    else emptyRef.current?.focus();
    setRemovedAt(undefined);
  }, [cart, removedAt]);

  const availability = stock.data;
  const overStock = (cart?.items ?? []).filter((line) => quantityProblem(String(line.quantity), availability?.get(line.sku)) !== undefined);
  const unavailable = cart?.unavailable ?? [];
  return (
    <>
      <PageTitle title="Your cart">Your cart</PageTitle>
      <ErrorAlert error={error} />
      {loading && !cart ? <Loading label="Loading your cart…" /> : null}
      {unavailable.length > 0 ? (
        <Alert kind="warning" title="Some items in your cart can no longer be bought.">
          <p>
            {unavailable.map((line) => line.sku).join(', ')}: {unavailable.length === 1 ? 'it is' : 'they are'} not in the catalog now (or priced in another currency), so checkout leaves{' '}
            {unavailable.length === 1 ? 'it' : 'them'} out.
          </p>
        </Alert>
      ) : null}
      {cart && cart.items.length === 0 ? (
        <div className="empty">
          <p>Your cart is empty.</p>
          <Link to="/search" className="button" ref={emptyRef}>
            Find something
          </Link>
        </div>
      ) : null}
      {cart && cart.items.length > 0 ? (
        <div className="cart-layout">
          <ul className="cart-lines" aria-label="Items in your cart" ref={listRef}>
            {cart.items.map((line, index) => (
              <CartRow key={line.sku} line={line} available={availability?.get(line.sku)} onError={setError} onRemoved={() => setRemovedAt(index)} />
            ))}
          </ul>
          <aside className="summary" aria-label="Order summary">
            <p className="summary-row">
              <span>Subtotal ({itemsText(cart.itemCount)})</span>
              <strong>{formatMoney(cart.subtotal)}</strong>
            </p>
            <p className="muted small">Shipping is free in the sandbox. Prices are confirmed at checkout.</p>
            {overStock.length > 0 ? <Alert kind="warning" title="Some quantities are more than we have in stock. Lower them (see the marked items) to check out." /> : null}
            <Link to="/checkout" className="button button-block">
              Check out
            </Link>
          </aside>
        </div>
      ) : null}
    </>
  );
}
