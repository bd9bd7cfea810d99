import { useState } from 'react';
import { ApiError, api } from '../api';
import { announce } from '../announce';
import { formatMoney } from '../format';
import { awaitsPayment, formatDeadline, formatLeft, msLeft, type AwaitingPayment } from '../payment-window';
import type { Order } from '../types';
import { Alert, ErrorAlert } from '../ui/Alert';
import { CardChoice } from '../ui/CardChoice';
import { useNow } from '../useNow';

/** The countdown's step: "how long is left" is shown to the second. */
const TICK_MS = 1_000;

/** The order a refused pay carries beside its problem (declined: PAYMENT_FAILED; window closed: as it is). */
function orderIn(err: unknown): Order | undefined {
  if (!(err instanceof ApiError) || typeof err.body !== 'object' || err.body === null || !('order' in err.body)) return undefined;
  return err.body.order as Order;
}

/**
 * A flash-sale order awaiting payment, on its order page: the deadline and the time left, and for
 * the shopper a card and Pay (POST /api/v1/orders/:id/pay). Whatever the answer, the order it
 * carries goes to `onOrder`: CONFIRMED (200), PAYMENT_FAILED (402, the page says why), or still
 * RESERVED past the window (409). Once the deadline passes the window is shown closed, Pay gone.
 */
export function OrderPayment({ order, operator, onOrder }: { order: AwaitingPayment; operator: boolean; onOrder: (order: Order) => void }) {
  const [token, setToken] = useState('tok_visa');
  const [paying, setPaying] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  // The server's word that the window closed (its clock decides, whatever this browser's says).
  const [refusedAsClosed, setRefusedAsClosed] = useState(false);
  const now = useNow(TICK_MS, new Date(order.payBy).getTime());
  const left = msLeft(order, now);
  const closed = refusedAsClosed || left <= 0;
  const deadline = formatDeadline(order.payBy, now);

  const pay = async (): Promise<void> => {
    if (paying) return;
    setPaying(true);
    setError(undefined);
    try {
      const { body } = await api.post<Order>(`/api/v1/orders/${encodeURIComponent(order.id)}/pay`, { payment: { method: 'card', token } });
      onOrder(body);
      announce(body.status === 'CONFIRMED' ? 'Paid: the order is confirmed.' : 'The payment was sent.');
    } catch (err) {
      const answered = orderIn(err);
      if (err instanceof ApiError && err.status === 409 && (!answered || awaitsPayment(answered))) {
        setRefusedAsClosed(true);
        announce('The payment window closed: the order can no longer be paid.');
      } else if (err instanceof ApiError && err.code === 'PAYMENT_DECLINED') {
        announce('The card was declined.');
      } else {
        setError(err);
      }
      if (answered) onOrder(answered);
    } finally {
      setPaying(false);
    }
  };

  if (operator) {
    return closed ? (
      <Alert kind="warning" title={`The customer's payment window closed at ${deadline}.`}>
        <p>Unpaid, the order expires and its units go back to the flash sale.</p>
      </Alert>
    ) : (
      // An alert's look without its live region: the time left changes every second and would be read out each time.
      <div className="alert alert-info">
        <p className="alert-title">Awaiting the customer's payment (flash sale).</p>
        <div className="alert-body">
          <p>
            The customer can pay it from their order page until <time dateTime={order.payBy}>{deadline}</time> ({formatLeft(left)}). Unpaid by then, it expires and its units go
            back to the sale.
          </p>
        </div>
      </div>
    );
  }
  if (closed) {
    return (
      <Alert kind="error" title={`The payment window closed at ${deadline}.`}>
        <p>This order can no longer be paid: its units go back to the flash sale.</p>
      </Alert>
    );
  }
  return (
    <section className="pay-box" aria-labelledby="pay-heading">
      <h2 id="pay-heading">Awaiting payment</h2>
      <p>
        <strong>
          Pay by <time dateTime={order.payBy}>{deadline}</time>
        </strong>{' '}
        <span className="muted">({formatLeft(left)})</span>, or the flash-sale units go back to the sale.
      </p>
      <CardChoice name="pay-card" token={token} onChange={setToken} />
      <button type="button" className="button" onClick={() => void pay()} aria-disabled={paying}>
        {paying ? 'Paying…' : `Pay ${formatMoney(order.total)}`}
      </button>
      <ErrorAlert error={error} title="The payment could not be sent." />
    </section>
  );
}
