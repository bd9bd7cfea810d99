import { useEffect, useState } from 'react';
import { ApiError, api, messageOf, newIdempotencyKey } from '../api';
import { SALE_POLL_MS, SALE_STATUS_LABELS, TICKET_POLL_LIMIT, TICKET_POLL_MS, type FlashSale, type Ticket } from '../flash-sale';
import { formatDateTime, formatMoney } from '../format';
import type { Params } from '../match';
import { Link } from '../router';
import { useSession } from '../session';
import type { Order } from '../types';
import { Alert, ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';

const PURCHASE_REFUSALS: Record<string, string> = {
  SOLD_OUT: 'Sold out — every unit has been taken. Units of unpaid orders come back; keep the page open.',
  LIMIT_EXCEEDED: 'You already hold as many units of this sale as one buyer may.',
  SALE_NOT_ACTIVE: 'The sale is not open right now.',
  RATE_LIMITED: 'Too many tries at once; wait a second and try again.',
};

/** The sale, re-read every SALE_POLL_MS while the page is open. */
function useLiveSale(id: string): { sale: FlashSale | undefined; error: unknown } {
  const [sale, setSale] = useState<FlashSale | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async (): Promise<void> => {
      try {
        setSale(await api.get<FlashSale>(`/api/v1/flash-sales/${encodeURIComponent(id)}`, { signal: controller.signal }));
        setError(undefined);
      } catch (err) {
        if (controller.signal.aborted) return;
        setError(err);
      }
      timer = setTimeout(() => void read(), SALE_POLL_MS);
    };
    void read();
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [id]);
  return { sale, error };
}

/** Follows a ticket until it is an order or expired. */
function useTicket(saleId: string, ticketId: string | undefined): Ticket | undefined {
  const [ticket, setTicket] = useState<Ticket | undefined>(undefined);
  useEffect(() => {
    if (!ticketId) return undefined;
    let stopped = false;
    let tries = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async (): Promise<void> => {
      tries += 1;
      const answer = await api.get<Ticket>(`/api/v1/flash-sales/${encodeURIComponent(saleId)}/tickets/${encodeURIComponent(ticketId)}`).catch(() => undefined);
      if (stopped) return;
      if (answer) setTicket(answer);
      if ((!answer || answer.status === 'ACCEPTED') && tries < TICKET_POLL_LIMIT) timer = setTimeout(() => void read(), TICKET_POLL_MS);
    };
    void read();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [saleId, ticketId]);
  return ticket;
}

function PayOrder({ orderId }: { orderId: string }) {
  const [token, setToken] = useState('tok_visa');
  const [paying, setPaying] = useState(false);
  const [paid, setPaid] = useState<Order | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const pay = async (): Promise<void> => {
    setPaying(true);
    setError(undefined);
    try {
      setPaid((await api.post<Order>(`/api/v1/orders/${encodeURIComponent(orderId)}/pay`, { payment: { method: 'card', token } })).body);
    } catch (err) {
      setError(err);
    } finally {
      setPaying(false);
    }
  };
  if (paid?.status === 'CONFIRMED') {
    return (
      <Alert kind="success" title="Paid — your order is confirmed.">
        <p>
          <Link to={`/orders/${orderId}`}>See the order</Link>
        </p>
      </Alert>
    );
  }
  return (
    <div className="flash-pay">
      <p>Your unit is reserved. Pay within the payment window, or it goes back to the sale.</p>
      <div className="inline-form">
        <div className="field">
          <label htmlFor="flash-card">Card (sandbox)</label>
          <select id="flash-card" value={token} onChange={(e) => setToken(e.target.value)}>
            <option value="tok_visa">Visa (approved)</option>
            <option value="tok_declined">Declined card</option>
          </select>
        </div>
        <button type="button" className="button" disabled={paying} onClick={() => void pay()}>
          {paying ? 'Paying…' : 'Pay now'}
        </button>
      </div>
      <ErrorAlert error={error} />
    </div>
  );
}

/** A flash sale: the units left (live), buy, the ticket's fate, and paying the order it became. */
export function FlashSalePage({ params }: { params: Params }) {
  const id = params.id ?? '';
  const session = useSession();
  const { sale, error } = useLiveSale(id);
  const [quantity, setQuantity] = useState(1);
  // One key per intent to buy: a retried click (after a network error) cannot buy twice.
  const [key, setKey] = useState(newIdempotencyKey);
  const [buying, setBuying] = useState(false);
  const [ticketId, setTicketId] = useState<string | undefined>(undefined);
  const [refusal, setRefusal] = useState<string | undefined>(undefined);
  const ticket = useTicket(id, ticketId);

  if (!sale) return error ? <ErrorAlert error={error} /> : <Loading />;

  const buy = async (): Promise<void> => {
    setBuying(true);
    setRefusal(undefined);
    try {
      const answer = await api.post<Ticket>(`/api/v1/flash-sales/${encodeURIComponent(id)}/purchase`, { quantity }, { idempotencyKey: key });
      setTicketId(answer.body.ticketId);
      setKey(newIdempotencyKey());
    } catch (err) {
      const code = err instanceof ApiError ? err.problem.code : undefined;
      setRefusal((code && PURCHASE_REFUSALS[code]) ?? messageOf(err));
      if (code && code in PURCHASE_REFUSALS) setKey(newIdempotencyKey());
    } finally {
      setBuying(false);
    }
  };

  return (
    <section className="flash-sale">
      <PageTitle title={`Flash sale · ${sale.sku}`}>Flash sale: {sale.sku}</PageTitle>
      <p className="flash-price">{formatMoney(sale.price)}</p>
      <p className="flash-remaining" aria-live="polite">
        <strong>{sale.remaining}</strong> of {sale.quantity} left · {SALE_STATUS_LABELS[sale.status]}
      </p>
      <p className="muted">
        {formatDateTime(sale.startsAt)} – {formatDateTime(sale.endsAt)} · at most {sale.perUserLimit} per buyer
      </p>
      {!session ? (
        <p>
          <Link to={`/login?next=${encodeURIComponent(`/flash-sales/${id}`)}`}>Sign in</Link> to buy.
        </p>
      ) : ticketId ? null : (
        <div className="inline-form">
          <div className="field">
            <label htmlFor="flash-quantity">Quantity</label>
            <select id="flash-quantity" value={quantity} onChange={(e) => setQuantity(Number(e.target.value))}>
              {Array.from({ length: sale.perUserLimit }, (_, i) => (
                <option key={i + 1} value={i + 1}>
                  {i + 1}
                </option>
              ))}
            </select>
          </div>
          <button type="button" className="button" disabled={buying || sale.status !== 'ACTIVE'} onClick={() => void buy()}>
            {buying ? 'Buying…' : 'Buy now'}
          </button>
        </div>
      )}
      {refusal ? <Alert kind="error" title={refusal} /> : null}
      {ticketId && (!ticket || ticket.status === 'ACCEPTED') ? <Alert kind="info" title="Got it! Your ticket is being turned into an order…" /> : null}
      {ticket?.status === 'EXPIRED' ? <Alert kind="error" title="This ticket expired: the unit was not yours in the end." /> : null}
      {ticket?.status === 'ORDERED' && ticket.orderId ? <PayOrder orderId={ticket.orderId} /> : null}
    </section>
  );
}
