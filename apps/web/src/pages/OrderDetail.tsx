import { useEffect, useRef, useState, type ReactNode } from 'react';
import { ApiError, api } from '../api';
import { announce } from '../announce';
import { refreshCart, restoreLines } from '../cart';
import { declineExplanation } from '../decline';
import { STATUS_LABELS, formatDateTime, formatMoney, shortId } from '../format';
import type { Params } from '../match';
import { awaitsPayment, formatDeadline } from '../payment-window';
import { placedOrder } from '../placed-orders';
import { Link, navigate, useSearchParams } from '../router';
import { CANCELLABLE, IN_PROGRESS, type Order } from '../types';
import { Alert, ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { StatusBadge } from '../ui/StatusBadge';
import { useAsync } from '../useAsync';
import { OrderPayment } from './OrderPayment';

/** An order still in progress (an async payment) is re-read this often, for at most POLL_LIMIT tries. */
const POLL_MS = 1_000;
const POLL_LIMIT = 120;

/**
 * What the shopper should know about the order now: waiting for an asynchronous payment (on
 * every visit while it lasts), and right after checkout or a settled payment, how it ended.
 * An operator reads the wait in the third person. A flash-sale order awaiting its payment is
 * OrderPayment's to show.
 */
function Outcome({ order, placed, settled, operator }: { order: Order; placed: boolean; settled: boolean; operator: boolean }) {
  if (awaitsPayment(order)) return null;
  if (order.status === 'EXPIRED' && order.payBy) {
    return (
      <Alert kind="error" title={`The payment window closed at ${formatDeadline(order.payBy, Date.now())}: this order expired unpaid.`}>
        <p>Nothing was charged, and the units went back to the flash sale.</p>
      </Alert>
    );
  }
  if (IN_PROGRESS.has(order.status) && operator) {
    return (
      <Alert kind="info" title="Payment pending: the items are reserved for the customer.">
        <p>The payment provider has not yet confirmed the customer's card. This page updates by itself when it does.</p>
      </Alert>
    );
  }
  if (IN_PROGRESS.has(order.status)) {
    return (
      <Alert kind="info" title="Payment pending: your items are reserved.">
        <p>We are waiting for the payment provider to confirm your card. This page updates by itself when it does.</p>
      </Alert>
    );
  }
  if (order.status === 'CONFIRMED' && settled && operator) {
    return (
      <Alert kind="success" title="Payment received: the order is confirmed.">
        <p>The payment provider confirmed the customer's card.</p>
      </Alert>
    );
  }
  if (order.status === 'CONFIRMED' && settled) {
    return (
      <Alert kind="success" title="Payment received. Your order is confirmed.">
        <p>The payment provider confirmed your card and your items are set aside for you.</p>
      </Alert>
    );
  }
  if (!placed && !settled) return null;
  if (order.status === 'CONFIRMED') {
    return (
      <Alert kind="success" title="Thank you! Your order is confirmed.">
        <p>We have your payment and your items are reserved for you.</p>
      </Alert>
    );
  }
  return null;
}

/**
 * A failed payment: why, and a way back to checkout with the order's lines in the cart. Not for a
 * flash-sale order (it has `payBy`): its units went back to the sale, not at the sale's price to the cart.
 */
function PaymentFailed({ order, retry }: { order: Order; retry: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const reason = [...order.history].reverse().find((event) => event.status === 'PAYMENT_FAILED')?.reason;
  const tryAgain = async () => {
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await restoreLines(order.lines);
      navigate('/checkout');
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Alert kind="error" title="The payment did not go through.">
      <p>
        {declineExplanation(reason)} Nothing was charged.{order.payBy ? ' The units went back to the flash sale.' : null}
      </p>
      {retry && !order.payBy ? (
        <p>
          <button type="button" className="button" onClick={() => void tryAgain()} aria-disabled={busy}>
            {busy ? 'Getting your cart ready…' : 'Try again'}
          </button>{' '}
          <span className="muted small">Back to checkout with these items in your cart, to pay with another card.</span>
        </p>
      ) : null}
      <ErrorAlert error={error} title="Your cart could not be restored." />
    </Alert>
  );
}

interface OrderViewProps {
  id: string;
  backTo: string;
  backLabel: string;
  /** The shopper's page: a failed payment offers Try again. */
  retry?: boolean;
  /** The admin's page: messages about the customer, not to them, and no Pay. */
  operator?: boolean;
  /** Shown under the status line once the order is read (the admin's: who the customer is). */
  about?: (order: Order) => ReactNode;
}

/** One order with its lines and status history; shared by the shopper's and the admin's pages. */
export function OrderView({ id, backTo, backLabel, retry = false, operator = false, about }: OrderViewProps) {
  const placed = useSearchParams().get('placed') === '1';
  // Right after checkout the order as checkout answered it is shown first (see placed-orders.ts).
  const [seed] = useState(() => (placed ? placedOrder(id) : undefined));
  const seedShown = useRef(false);
  const order = useAsync((signal) => {
    if (seed && !seedShown.current) {
      seedShown.current = true;
      return Promise.resolve(seed);
    }
    return api.get<Order>(`/api/v1/orders/${encodeURIComponent(id)}`, { signal });
  }, [id]);
  const [polls, setPolls] = useState(0);
  /** The order was seen waiting for its payment and has since left that state. */
  const [settled, setSettled] = useState(false);
  const sawInProgress = useRef(false);
  const [confirming, setConfirming] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const [cancelError, setCancelError] = useState<unknown>(undefined);
  const { data, setData, reload } = order;

  useEffect(() => {
    // An order awaiting the shopper's payment waits for nobody else: its page is not re-read.
    if (!data || !IN_PROGRESS.has(data.status) || awaitsPayment(data) || polls >= POLL_LIMIT) return;
    const timer = window.setTimeout(() => {
      setPolls((n) => n + 1);
      reload();
    }, POLL_MS);
    return () => window.clearTimeout(timer);
  }, [data, polls, reload]);

  const status = data?.status;
  useEffect(() => {
    if (!status) return;
    if (IN_PROGRESS.has(status)) {
      sawInProgress.current = true;
      return;
    }
    if (!sawInProgress.current) return;
    sawInProgress.current = false;
    setSettled(true);
    // A confirmed order's lines leave the cart on the server only now: the header follows.
    refreshCart().catch((err: unknown) => console.warn('cart refresh after the payment settled failed', err));
  }, [status]);

  useEffect(() => {
    if (status && polls > 0) announce(`Order status: ${STATUS_LABELS[status]}.`);
  }, [status, polls]);

  const cancel = async () => {
    setCancelling(true);
    setCancelError(undefined);
    try {
      const { body } = await api.post<Order>(`/api/v1/orders/${encodeURIComponent(id)}/cancel`);
      setData(body);
      setConfirming(false);
      announce('The order was cancelled.');
    } catch (err) {
      setCancelError(err);
    } finally {
      setCancelling(false);
    }
  };

  const title = `Order #${shortId(id)}`;
  if (!data) {
    const missing = order.error instanceof ApiError && (order.error.status === 404 || order.error.status === 400);
    return (
      <>
        <PageTitle title={title}>{title}</PageTitle>
        {order.loading ? <Loading label="Loading the order…" /> : null}
        {missing ? (
          <p>
            There is no such order on your account. <Link to={backTo}>{backLabel}</Link>
          </p>
        ) : (
          <ErrorAlert error={order.error} />
        )}
      </>
    );
  }

  return (
    <>
      <p className="small">
        <Link to={backTo}>← {backLabel}</Link>
      </p>
      <PageTitle title={title}>{title}</PageTitle>
      <p className="order-meta">
        <StatusBadge status={data.status} /> <span className="muted">Placed {formatDateTime(data.createdAt)}</span>
      </p>
      {about ? about(data) : null}
      <div aria-live="polite">
        <Outcome order={data} placed={placed} settled={settled} operator={operator} />
      </div>
      {awaitsPayment(data) ? <OrderPayment order={data} operator={operator} onOrder={setData} /> : null}
      {data.status === 'PAYMENT_FAILED' ? <PaymentFailed order={data} retry={retry} /> : null}

      <div className="order-layout">
        <section aria-labelledby="lines-heading">
          <h2 id="lines-heading">Items</h2>
          <div className="table-wrap">
            {/* On a phone the Price column gives way (the price goes under the item), so Total fits. */}
            <table className="order-lines">
              <thead>
                <tr>
                  <th scope="col">Item</th>
                  <th scope="col" className="num">
                    Qty
                  </th>
                  <th scope="col" className="num col-price">
                    Price
                  </th>
                  <th scope="col" className="num">
                    Total
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.lines.map((line) => (
                  <tr key={line.sku}>
                    <th scope="row">
                      {line.title}
                      <span className="muted small block">SKU {line.sku}</span>
                      <span className="muted small block unit-price">{formatMoney(line.unitPrice)} each</span>
                    </th>
                    <td className="num">{line.quantity}</td>
                    <td className="num col-price">{formatMoney(line.unitPrice)}</td>
                    <td className="num">{formatMoney(line.lineTotal)}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row" colSpan={2}>
                    Total
                  </th>
                  <td className="col-price" />
                  <td className="num">
                    <strong>{formatMoney(data.total)}</strong>
                  </td>
                </tr>
              </tfoot>
            </table>
          </div>
          {data.shippingAddress ? (
            <>
              <h2>Shipping to</h2>
              <address>
                {data.shippingAddress.name}
                <br />
                {data.shippingAddress.line1}
                <br />
                {data.shippingAddress.postalCode} {data.shippingAddress.city}, {data.shippingAddress.country}
              </address>
            </>
          ) : null}
        </section>

        <section aria-labelledby="history-heading">
          <h2 id="history-heading">Status history</h2>
          <ol className="timeline">
            {data.history.map((event, i) => (
              <li key={`${event.status}-${i}`}>
                <StatusBadge status={event.status} />
                <time dateTime={event.at} className="small">
                  {formatDateTime(event.at)}
                </time>
                {event.reason ? <span className="muted small block">{event.reason}</span> : null}
              </li>
            ))}
          </ol>

          {/* A flash-sale order (it has `payBy`) is not cancelled: unpaid, it expires by itself (the API answers 409). */}
          {CANCELLABLE.has(data.status) && !data.payBy ? (
            <div className="cancel-box">
              {confirming ? (
                <div role="group" aria-labelledby="cancel-question">
                  <p id="cancel-question">
                    {operator ? 'Cancel this order? The customer is refunded and the items go back on sale.' : 'Cancel this order? You will be refunded and the items go back on sale.'}
                  </p>
                  <div className="button-row">
                    <button type="button" className="button button-danger" onClick={() => void cancel()} disabled={cancelling} autoFocus>
                      {cancelling ? 'Cancelling…' : 'Yes, cancel order'}
                    </button>
                    <button type="button" className="button button-secondary" onClick={() => setConfirming(false)} disabled={cancelling}>
                      Keep order
                    </button>
                  </div>
                </div>
              ) : (
                <button type="button" className="button button-secondary" onClick={() => setConfirming(true)}>
                  Cancel order
                </button>
              )}
              <ErrorAlert error={cancelError} title="The order could not be cancelled." />
            </div>
          ) : null}
        </section>
      </div>
    </>
  );
}

export function OrderDetailPage({ params }: { params: Params }) {
  return <OrderView id={params.id ?? ''} backTo="/orders" backLabel="All your orders" retry />;
}
