import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError, NETWORK_ERROR, newIdempotencyKey, request } from '../api';
import { availabilityOf } from '../availability';
import { itemsText, refreshCart, useCart } from '../cart';
import { declineExplanation } from '../decline';
import { formatMoney } from '../format';
import { rememberPlacedOrder } from '../placed-orders';
import { Link, navigate } from '../router';
import { useSession } from '../session';
import type { Address, Order } from '../types';
import { Alert, ErrorAlert, Loading } from '../ui/Alert';
import { CardChoice } from '../ui/CardChoice';
import { SelectField, TextField } from '../ui/Field';
import { PageTitle } from '../ui/PageTitle';

const COUNTRIES: readonly [string, string][] = [
  ['US', 'United States'],
  ['CA', 'Canada'],
  ['GB', 'United Kingdom'],
  ['IE', 'Ireland'],
  ['DE', 'Germany'],
  ['FR', 'France'],
  ['NL', 'Netherlands'],
  ['ES', 'Spain'],
  ['IT', 'Italy'],
  ['SE', 'Sweden'],
  ['AU', 'Australia'],
  ['NZ', 'New Zealand'],
  ['JP', 'Japan'],
  ['IN', 'India'],
  ['BR', 'Brazil'],
];

/** The address fields this form asks for (the API's optional `line2` is not one of them). */
type AddressField = 'name' | 'line1' | 'city' | 'postalCode' | 'country';
type AddressForm = Pick<Address, AddressField>;
const ADDRESS_FIELDS: readonly AddressField[] = ['name', 'line1', 'city', 'postalCode', 'country'];
const FIELD_PATHS = [...ADDRESS_FIELDS.map((f) => `shippingAddress.${f}`), 'payment.token'];

interface Outcome {
  kind: 'declined' | 'rejected';
  detail: string;
  order: Order | undefined;
  /** Rejected for stock: the order's lines that ask for more than is available now. */
  short?: { title: string; quantity: number; available: number }[];
}

/** The lines of a rejected order that ask for more than is available (the answer names none). */
async function shortLines(order: Order | undefined): Promise<Outcome['short']> {
  if (!order) return undefined;
  try {
    const available = await availabilityOf(order.lines.map((line) => line.sku));
    return order.lines.flatMap((line) => {
      const units = available.get(line.sku) ?? 0;
      return line.quantity > units ? [{ title: line.title, quantity: line.quantity, available: units }] : [];
    });
  } catch (err) {
    console.warn('could not read the stock of a rejected order', err);
    return undefined;
  }
}

function orderOf(body: unknown): Order | undefined {
  if (typeof body === 'object' && body !== null && 'order' in body) return body.order as Order;
  return undefined;
}

export function CheckoutPage() {
  const session = useSession();
  const cart = useCart();
  const [loadError, setLoadError] = useState<unknown>(undefined);
  const [address, setAddress] = useState<AddressForm>({ name: session?.user.name ?? '', line1: '', city: '', postalCode: '', country: 'US' });
  const [token, setToken] = useState<string>('tok_visa');
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(undefined);
  const [outcome, setOutcome] = useState<Outcome | undefined>(undefined);
  const [submitting, setSubmitting] = useState(false);
  /** Kept across a retry after a network failure so the server can tell it is the same attempt. */
  const attemptKey = useRef<string | undefined>(undefined);
  const outcomeRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    refreshCart().catch((err: unknown) => setLoadError(err));
  }, []);

  useEffect(() => {
    if (outcome || error) outcomeRef.current?.focus();
  }, [outcome, error]);

  const set = (field: AddressField) => (value: string) => {
    setAddress((a) => ({ ...a, [field]: value }));
    setFieldErrors((errors) => {
      const { [`shippingAddress.${field}`]: _removed, ...rest } = errors;
      return rest;
    });
  };

  const validate = (): Record<string, string> => {
    const errors: Record<string, string> = {};
    const labels: Record<AddressField, string> = { name: 'full name', line1: 'street address', city: 'city', postalCode: 'postal code', country: 'country' };
    for (const field of ADDRESS_FIELDS) {
      if (!address[field].trim()) errors[`shippingAddress.${field}`] = `Enter your ${labels[field]}.`;
    }
    return errors;
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const errors = validate();
    setFieldErrors(errors);
    setOutcome(undefined);
    setError(undefined);
    if (Object.keys(errors).length > 0) {
      const first = Object.keys(errors)[0]?.split('.')[1];
      if (first) document.getElementById(`checkout-${first}`)?.focus();
      return;
    }
    attemptKey.current ??= newIdempotencyKey();
    setSubmitting(true);
    try {
      const trimmed = Object.fromEntries(ADDRESS_FIELDS.map((f) => [f, address[f].trim()])) as unknown as Address;
      const { body } = await request<Order>('POST', '/api/v1/checkout', {
        body: { payment: { method: 'card', token }, shippingAddress: trimmed },
        idempotencyKey: attemptKey.current,
      });
      attemptKey.current = undefined;
      rememberPlacedOrder(body);
      await refreshCart().catch((err: unknown) => console.warn('cart refresh after checkout failed', err));
      navigate(`/orders/${body.id}?placed=1`);
    } catch (err) {
      // Only a request that may not have arrived is retried under the same key; any answer ends the attempt.
      if (!(err instanceof ApiError && err.code === NETWORK_ERROR)) attemptKey.current = undefined;
      if (err instanceof ApiError && err.code === 'PAYMENT_DECLINED') {
        setOutcome({ kind: 'declined', detail: err.problem.detail, order: orderOf(err.body) });
      } else if (err instanceof ApiError && err.code === 'OUT_OF_STOCK') {
        const order = orderOf(err.body);
        setOutcome({ kind: 'rejected', detail: err.problem.detail, order, short: await shortLines(order) });
        await refreshCart().catch((e: unknown) => console.warn('cart refresh failed', e));
      } else {
        if (err instanceof ApiError) setFieldErrors(err.fieldErrors());
        setError(err);
      }
    } finally {
      setSubmitting(false);
    }
  };

  if (!cart) {
    return (
      <>
        <PageTitle title="Checkout">Checkout</PageTitle>
        {loadError ? <ErrorAlert error={loadError} /> : <Loading label="Loading your cart…" />}
      </>
    );
  }

  const fieldProps = (field: AddressField) => ({
    id: `checkout-${field}`,
    name: field,
    value: address[field],
    error: fieldErrors[`shippingAddress.${field}`],
    required: true,
  });

  return (
    <>
      <PageTitle title="Checkout">Checkout</PageTitle>
      <div ref={outcomeRef} tabIndex={-1} className="outcome">
        {outcome?.kind === 'declined' ? (
          <Alert kind="error" title="Payment declined">
            <p>{declineExplanation(outcome.detail)}</p>
            <p>Your card was not charged and nothing was reserved. Your cart is unchanged: choose another card and try again.</p>
            {outcome.order ? (
              <p>
                <Link to={`/orders/${outcome.order.id}`}>See the failed order</Link>
              </p>
            ) : null}
          </Alert>
        ) : null}
        {outcome?.kind === 'rejected' ? (
          <Alert kind="error" title="Not enough stock for your order">
            {outcome.short && outcome.short.length > 0 ? (
              <ul>
                {outcome.short.map((line) => (
                  <li key={line.title}>
                    <strong>{line.title}</strong>: {line.quantity} in your cart, {line.available === 0 ? 'none' : line.available} available now.
                  </li>
                ))}
              </ul>
            ) : (
              <p>The stock of some items ran out while you were checking out.</p>
            )}
            <p>
              Nothing was charged. <Link to="/cart">Change the quantities in your cart</Link> and try again.
            </p>
          </Alert>
        ) : null}
        <ErrorAlert error={error} title={error instanceof ApiError && error.code === 'CART_EMPTY' ? 'Your cart is empty.' : undefined} shownFields={FIELD_PATHS} />
      </div>
      {cart.items.length === 0 ? (
        <div className="empty">
          <p>Your cart is empty, so there is nothing to check out.</p>
          <Link to="/search" className="button">
            Find something
          </Link>
        </div>
      ) : (
        <div className="checkout-layout">
          <form className="checkout-form" onSubmit={(e) => void submit(e)} noValidate aria-busy={submitting}>
            <fieldset>
              <legend>Shipping address</legend>
              <TextField label="Full name" autoComplete="name" onChange={(e) => set('name')(e.target.value)} {...fieldProps('name')} maxLength={200} />
              <TextField label="Street address" autoComplete="address-line1" onChange={(e) => set('line1')(e.target.value)} {...fieldProps('line1')} maxLength={200} />
              <div className="field-row">
                <TextField label="City" autoComplete="address-level2" onChange={(e) => set('city')(e.target.value)} {...fieldProps('city')} maxLength={100} />
                <TextField label="Postal code" autoComplete="postal-code" onChange={(e) => set('postalCode')(e.target.value)} {...fieldProps('postalCode')} maxLength={20} />
              </div>
              <SelectField label="Country" autoComplete="country" onChange={(e) => set('country')(e.target.value)} {...fieldProps('country')}>
                {COUNTRIES.map(([code, name]) => (
                  <option key={code} value={code}>
                    {name}
                  </option>
                ))}
              </SelectField>
            </fieldset>
            <CardChoice name="card" token={token} onChange={setToken} withAsync error={fieldErrors['payment.token']} />
            <button type="submit" className="button button-block" disabled={submitting}>
              {submitting ? 'Placing your order…' : `Place order · ${formatMoney(cart.subtotal)}`}
            </button>
          </form>
          <aside className="summary" aria-label="Order summary">
            <h2>Order summary</h2>
            <ul className="summary-lines">
              {cart.items.map((line) => (
                <li key={line.sku}>
                  <span>
                    {line.quantity} × {line.productName ?? line.title}
                    {line.productName ? <span className="muted small"> ({line.title})</span> : null}
                  </span>
                  <span>{formatMoney(line.lineTotal)}</span>
                </li>
              ))}
            </ul>
            <p className="summary-row">
              <span>Total ({itemsText(cart.itemCount)})</span>
              <strong>{formatMoney(cart.subtotal)}</strong>
            </p>
          </aside>
        </div>
      )}
    </>
  );
}
