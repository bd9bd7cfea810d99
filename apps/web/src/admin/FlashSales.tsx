import { useEffect, useState, type FormEvent } from 'react';
import { api } from '../api';
import { SALE_STATUS_LABELS, formatPaymentWindow, paymentWindowFromMinutes, type FlashSale, type FlashSaleStats } from '../flash-sale';
import { formatDateTime, formatMoney, parseMoneyInput } from '../format';
import { Link } from '../router';
import { Alert, ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';

/** The sales list is re-read this often: remaining, tickets and drift move live during a sale. */
const REFRESH_MS = 2_000;
const MINUTE_MS = 60_000;
/** The table's "Runs" column is kept short (no year; the end's date only when it differs) so the table fits beside the nav. */
const SHORT_DATE_TIME = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const TIME_ONLY = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });

function runsText(sale: FlashSale): string {
  const start = new Date(sale.startsAt);
  const end = new Date(sale.endsAt);
  const sameDay = start.toDateString() === end.toDateString();
  return `${SHORT_DATE_TIME.format(start)} – ${(sameDay ? TIME_ONLY : SHORT_DATE_TIME).format(end)}`;
}

function useSales(refreshKey: number): { sales: FlashSaleStats[] | undefined; error: unknown } {
  const [sales, setSales] = useState<FlashSaleStats[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async (): Promise<void> => {
      try {
        setSales((await api.get<{ items: FlashSaleStats[] }>('/api/v1/admin/flash-sales', { signal: controller.signal })).items);
        setError(undefined);
      } catch (err) {
        if (controller.signal.aborted) return;
        setError(err);
      }
      timer = setTimeout(() => void read(), REFRESH_MS);
    };
    void read();
    return () => {
      controller.abort();
      if (timer) clearTimeout(timer);
    };
  }, [refreshKey]);
  return { sales, error };
}

/** A sale's payment window as the table shows it: its own, or the shop's default (not known to the browser). */
function windowText(sale: FlashSale): string {
  return sale.paymentWindowSeconds === undefined ? 'Shop default' : formatPaymentWindow(sale.paymentWindowSeconds);
}

function CreateSale({ onCreated }: { onCreated: () => void }) {
  const [sku, setSku] = useState('');
  const [quantity, setQuantity] = useState('100');
  const [price, setPrice] = useState('9.99');
  const [startsInMinutes, setStartsInMinutes] = useState('0');
  const [minutes, setMinutes] = useState('30');
  const [perUserLimit, setPerUserLimit] = useState('1');
  // Blank: the sale takes the shop's default window (AGORA_FLASH_SALE_PAYMENT_WINDOW_MS).
  const [windowMinutes, setWindowMinutes] = useState('');
  const [windowError, setWindowError] = useState<string | undefined>(undefined);
  const [created, setCreated] = useState<FlashSale | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const paymentWindow = paymentWindowFromMinutes(windowMinutes);
    setWindowError('error' in paymentWindow ? paymentWindow.error : undefined);
    if ('error' in paymentWindow) return;
    setBusy(true);
    setError(undefined);
    setCreated(undefined);
    try {
      const startsAt = new Date(Date.now() + Number(startsInMinutes) * MINUTE_MS);
      const endsAt = new Date(startsAt.getTime() + Number(minutes) * MINUTE_MS);
      const answer = await api.post<FlashSale>('/api/v1/admin/flash-sales', {
        sku: sku.trim(),
        quantity: Number(quantity),
        price: { amount: parseMoneyInput(price) ?? -1, currency: 'USD' },
        startsAt: startsAt.toISOString(),
        endsAt: endsAt.toISOString(),
        perUserLimit: Number(perUserLimit),
        ...(paymentWindow.seconds === undefined ? {} : { paymentWindowSeconds: paymentWindow.seconds }),
      });
      setCreated(answer.body);
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fields: [string, string, (v: string) => void, string][] = [
    ['SKU', sku, setSku, 'flash-sku'],
    ['Units (set aside from stock)', quantity, setQuantity, 'flash-quantity'],
    ['Sale price (USD)', price, setPrice, 'flash-price'],
    ['Starts in (minutes)', startsInMinutes, setStartsInMinutes, 'flash-starts'],
    ['Lasts (minutes)', minutes, setMinutes, 'flash-minutes'],
    ['Per buyer at most', perUserLimit, setPerUserLimit, 'flash-limit'],
  ];
  return (
    <form className="inline-form flash-create" onSubmit={(e) => void submit(e)}>
      {fields.map(([label, value, set, id]) => (
        <div className="field" key={id}>
          <label htmlFor={id}>{label}</label>
          <input id={id} value={value} onChange={(e) => set(e.target.value)} autoComplete="off" required />
        </div>
      ))}
      <div className="field">
        <label htmlFor="flash-payment-window">Payment window (minutes, optional)</label>
        <input
          id="flash-payment-window"
          value={windowMinutes}
          onChange={(e) => {
            setWindowMinutes(e.target.value);
            setWindowError(undefined);
          }}
          inputMode="decimal"
          placeholder="Shop default"
          autoComplete="off"
          aria-invalid={windowError ? true : undefined}
          aria-describedby="flash-payment-window-hint"
        />
        <p id="flash-payment-window-hint" className={`small ${windowError ? 'field-error' : 'muted'}`} role={windowError ? 'alert' : undefined}>
          {windowError ?? "How long a buyer has to pay. Blank: the shop's default."}
        </p>
      </div>
      <button type="submit" className="button" disabled={busy}>
        {busy ? 'Creating…' : 'Create sale'}
      </button>
      <ErrorAlert error={error} />
      {created ? (
        <Alert kind="success" title={`Sale created: ${created.quantity} × ${created.sku}, payment window ${windowText(created).toLowerCase()}.`}>
          <p>
            <Link to={`/flash-sales/${created.id}`}>Open the sale page</Link>
          </p>
        </Alert>
      ) : null}
    </form>
  );
}

/** Create flash sales and watch them: units left, tickets accepted, orders, paid, expired, drift. */
export function AdminFlashSalesPage() {
  const [refreshKey, setRefreshKey] = useState(0);
  const { sales, error } = useSales(refreshKey);
  return (
    <>
      <PageTitle title="Flash sales · Admin">Flash sales</PageTitle>
      <CreateSale onCreated={() => setRefreshKey((k) => k + 1)} />
      <ErrorAlert error={error} />
      {!sales ? (
        <Loading />
      ) : sales.length === 0 ? (
        <p className="muted">No flash sales yet.</p>
      ) : (
        <table className="data-table">
          <thead>
            <tr>
              <th>SKU</th>
              <th>Status</th>
              <th className="num">Price</th>
              <th className="num">Left / units</th>
              <th className="num">Accepted</th>
              <th className="num">Ordered</th>
              <th className="num">Paid</th>
              <th className="num">Expired</th>
              <th className="num">Drift</th>
              <th>Runs</th>
              <th>Payment window</th>
            </tr>
          </thead>
          <tbody>
            {sales.map((s) => (
              <tr key={s.id}>
                <td>
                  <Link to={`/flash-sales/${s.id}`}>{s.sku}</Link>
                </td>
                <td>{SALE_STATUS_LABELS[s.status]}</td>
                <td className="num">{formatMoney(s.price)}</td>
                <td className="num">
                  {s.remaining} / {s.quantity}
                </td>
                <td className="num">{s.accepted}</td>
                <td className="num">{s.ordered}</td>
                <td className="num">{s.paid}</td>
                <td className="num">{s.expired}</td>
                <td className={s.drift === 0 ? 'num' : 'num drift'}>{s.drift}</td>
                <td title={`${formatDateTime(s.startsAt)} – ${formatDateTime(s.endsAt)}`}>{runsText(s)}</td>
                <td>{windowText(s)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
