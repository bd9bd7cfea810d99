import { useCallback, useEffect, useState } from 'react';
import { ApiError, api, messageOf, newIdempotencyKey } from '../api';
import { declineExplanation } from '../decline';
import {
  ORDER_POLL_LIMIT,
  ORDER_POLL_MS,
  SALE_POLL_MS,
  SALE_STATUS_LABELS,
  TICKET_POLL_LIMIT,
  TICKET_POLL_MS,
  formatPaymentWindow,
  rememberTicket,
  rememberedTicket,
  type FlashSale,
  type Ticket,
} from '../flash-sale';
import { STATUS_LABELS, formatDateTime, formatMoney, formatTime, shortId } from '../format';
import type { Params } from '../match';
import { Link } from '../router';
import { useSession } from '../session';
import { IN_PROGRESS, type Order } from '../types';
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
    setTicket(undefined); // not the last ticket's fate while the new one is read
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

/** An order's answer carried by a refused pay (declined, window closed), as the API sends it beside the problem. */
function orderIn(err: unknown): Order | undefined {
  if (!(err instanceof ApiError) || typeof err.body !== 'object' || err.body === null || !('order' in err.body)) return undefined;
  return err.body.order as Order;
}

/**
 * The order a ticket became. ORDERED on a ticket means the units are the buyer's; the order service
 * opens the order from that fact a moment later, so until then the order answers 404 and is read again.
 */
function useTicketOrder(orderId: string): { order: Order | undefined; setOrder: (order: Order) => void; gaveUp: boolean } {
  const [order, setOrder] = useState<Order | undefined>(undefined);
  const [gaveUp, setGaveUp] = useState(false);
  useEffect(() => {
    let stopped = false;
    let tries = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async (): Promise<void> => {
      tries += 1;
      const answer = await api.get<Order>(`/api/v1/orders/${encodeURIComponent(orderId)}`).catch(() => undefined);
      if (stopped) return;
      if (answer) setOrder(answer);
      else if (tries < ORDER_POLL_LIMIT) timer = setTimeout(() => void read(), ORDER_POLL_MS);
      else setGaveUp(true);
    };
    void read();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [orderId]);
  return { order, setOrder, gaveUp };
}

/** When the order must be paid by, in words: the sale's own window is known here; the shop's default is not. */
function deadlineText(order: Order, sale: FlashSale): string {
  if (sale.paymentWindowSeconds === undefined) return 'Pay within the payment window, or the unit goes back to the sale.';
  const payBy = new Date(order.createdAt).getTime() + sale.paymentWindowSeconds * 1_000;
  return `Pay by ${formatTime(payBy)} (${formatPaymentWindow(sale.paymentWindowSeconds)} from your order), or the unit goes back to the sale.`;
}

/** The order of a ticket: awaiting payment, paying it, and what came of it. Calls onSettled once it is over either way. */
function TicketOrder({ orderId, sale, onSettled }: { orderId: string; sale: FlashSale; onSettled: () => void }) {
  const { order, setOrder, gaveUp } = useTicketOrder(orderId);
  const [token, setToken] = useState('tok_visa');
  const [paying, setPaying] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const settled = order !== undefined && !IN_PROGRESS.has(order.status);
  useEffect(() => {
    if (settled) onSettled();
  }, [settled, onSettled]);

  const pay = async (): Promise<void> => {
    setPaying(true);
    setError(undefined);
    try {
      setOrder((await api.post<Order>(`/api/v1/orders/${encodeURIComponent(orderId)}/pay`, { payment: { method: 'card', token } })).body);
    } catch (err) {
      const answered = orderIn(err);
      if (answered) setOrder(answered);
      setError(err);
    } finally {
      setPaying(false);
    }
  };

  if (!order) {
    return gaveUp ? (
      <Alert kind="warning" title="Your unit is yours, but the order is taking long to open.">
        <p>
          It will be among <Link to="/orders">your orders</Link> in a moment.
        </p>
      </Alert>
    ) : (
      <Alert kind="info" title="Your unit is yours: opening your order…" />
    );
  }
  const seeOrder = <Link to={`/orders/${orderId}`}>See order {shortId(orderId)}</Link>;
  if (order.status === 'CONFIRMED') {
    return (
      <Alert kind="success" title="Paid — your order is confirmed.">
        <p>{seeOrder}</p>
      </Alert>
    );
  }
  if (order.status === 'PAYMENT_FAILED') {
    return (
      <Alert kind="error" title="Your card was declined: the unit went back to the sale.">
        <p>
          {error instanceof ApiError && error.code === 'PAYMENT_DECLINED' ? `${declineExplanation(error.problem.detail)} ` : null}
          You can buy again while units are left. {seeOrder}
        </p>
      </Alert>
    );
  }
  if (order.status === 'EXPIRED') {
    return (
      <Alert kind="error" title="The payment window closed: the unit went back to the sale.">
        <p>{seeOrder}</p>
      </Alert>
    );
  }
  if (settled) {
    return (
      <Alert kind="error" title={`This order is ${STATUS_LABELS[order.status].toLowerCase()}.`}>
        <p>{seeOrder}</p>
      </Alert>
    );
  }
  const quantity = order.lines.reduce((sum, line) => sum + line.quantity, 0);
  return (
    <div className="flash-pay">
      <Alert kind="info" title={`Order ${shortId(orderId)} is awaiting payment: ${formatMoney(order.total)} for ${quantity} × ${sale.sku}.`}>
        <p>{deadlineText(order, sale)}</p>
      </Alert>
      <div className="inline-form">
        <div className="field">
          <label htmlFor="flash-card">Card (sandbox)</label>
          <select id="flash-card" value={token} onChange={(e) => setToken(e.target.value)}>
            <option value="tok_visa">Visa (approved)</option>
            <option value="tok_declined">Declined card</option>
          </select>
        </div>
        <button type="button" className="button" disabled={paying} onClick={() => void pay()}>
          {paying ? 'Paying…' : `Pay ${formatMoney(order.total)}`}
        </button>
      </div>
      <ErrorAlert error={error} />
    </div>
  );
}

/** Why the buy button is not there: the sale is not open (a buyer who cannot buy should read why). */
function ClosedNotice({ sale }: { sale: FlashSale }) {
  if (sale.status === 'SOLD_OUT') return <Alert kind="warning" title={PURCHASE_REFUSALS.SOLD_OUT} />;
  if (sale.status === 'SCHEDULED') return <Alert kind="info" title={`The sale starts ${formatDateTime(sale.startsAt)}.`} />;
  if (sale.status === 'ENDED') return <Alert kind="info" title="This sale has ended." />;
  return null;
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
  const userId = session?.user.id;
  const [ticketId, setTicketId] = useState<string | undefined>(() => (userId ? rememberedTicket(id, userId) : undefined));
  // The last ticket is over (paid, declined, expired): the buyer may try again, within the limit.
  const [settled, setSettled] = useState(false);
  const [refusal, setRefusal] = useState<string | undefined>(undefined);
  const ticket = useTicket(id, ticketId);
  const onSettled = useCallback(() => setSettled(true), []);
  const ticketExpired = ticket?.status === 'EXPIRED';
  // Another sale or another buyer (the route keeps this page mounted): their own last ticket.
  useEffect(() => {
    setTicketId(userId ? rememberedTicket(id, userId) : undefined);
    setSettled(false);
    setRefusal(undefined);
  }, [id, userId]);

  if (!sale) return error ? <ErrorAlert error={error} /> : <Loading />;

  const buy = async (): Promise<void> => {
    setBuying(true);
    setRefusal(undefined);
    try {
      const answer = await api.post<Ticket>(`/api/v1/flash-sales/${encodeURIComponent(id)}/purchase`, { quantity }, { idempotencyKey: key });
      setTicketId(answer.body.ticketId);
      if (userId) rememberTicket(id, userId, answer.body.ticketId);
      setSettled(false);
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
      ) : ticketId && !settled && !ticketExpired ? null : sale.status !== 'ACTIVE' ? (
        <ClosedNotice sale={sale} />
      ) : (
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
          <button type="button" className="button" disabled={buying} onClick={() => void buy()}>
            {buying ? 'Buying…' : ticketId ? 'Buy again' : 'Buy now'}
          </button>
        </div>
      )}
      {refusal ? <Alert kind="error" title={refusal} /> : null}
      {ticketId && (!ticket || ticket.status === 'ACCEPTED') ? <Alert kind="info" title="Got it! Your ticket is being turned into an order…" /> : null}
      {ticketExpired ? <Alert kind="error" title="This ticket expired: the unit was not yours in the end." /> : null}
      {ticket?.status === 'ORDERED' && ticket.orderId ? <TicketOrder key={ticket.orderId} orderId={ticket.orderId} sale={sale} onSettled={onSettled} /> : null}
    </section>
  );
}
