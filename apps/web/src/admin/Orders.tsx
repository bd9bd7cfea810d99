import { useState } from 'react';
import { api } from '../api';
import { STATUS_LABELS, shortId } from '../format';
import type { Params } from '../match';
import { navigate, useSearchParams } from '../router';
import { ORDER_STATUSES, type Order, type Page } from '../types';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { OrderTable } from '../pages/Orders';
import { OrderView } from '../pages/OrderDetail';
import { useAsync } from '../useAsync';
import { useCustomers } from './customers';

const PAGE_SIZE = 50;

function url(status: string, cursor?: string): string {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (status) params.set('status', status);
  if (cursor) params.set('cursor', cursor);
  return `/api/v1/admin/orders?${params.toString()}`;
}

/** Every customer's orders, newest first, filtered by status (kept in the URL so it can be shared). */
export function AdminOrdersPage() {
  const status = useSearchParams().get('status') ?? '';
  const first = useAsync((signal) => api.get<Page<Order>>(url(status), { signal }), [status]);
  const [more, setMore] = useState<{ status: string; items: Order[]; nextCursor: string | null } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [filter, setFilter] = useState('');
  const extra = more?.status === status ? more : undefined;
  const all = [...(first.data?.items ?? []), ...(extra?.items ?? [])];
  const cursor = extra ? extra.nextCursor : (first.data?.nextCursor ?? null);
  const customers = useCustomers(all.map((o) => o.userId));
  const needle = filter.trim().toLowerCase();
  const customerMatches = (o: Order) => {
    const user = customers.get(o.userId);
    return o.userId.toLowerCase().includes(needle) || (user ? `${user.name} ${user.email}`.toLowerCase().includes(needle) : false);
  };
  const items = needle ? all.filter((o) => o.id.toLowerCase().includes(needle) || customerMatches(o) || o.lines.some((l) => l.sku.toLowerCase().includes(needle))) : all;

  const loadMore = async () => {
    if (!cursor) return;
    try {
      const page = await api.get<Page<Order>>(url(status, cursor));
      setMore({ status, items: [...(extra?.items ?? []), ...page.items], nextCursor: page.nextCursor });
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <PageTitle title="Orders · Admin">Orders</PageTitle>
      <div className="filters">
        <div className="field">
          <label htmlFor="order-status">Status</label>
          <select id="order-status" value={status} onChange={(e) => navigate(e.target.value ? `/admin/orders?status=${e.target.value}` : '/admin/orders', { replace: true, quiet: true })}>
            <option value="">All statuses</option>
            {ORDER_STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="order-filter">Order, customer or SKU</label>
          <input id="order-filter" type="search" value={filter} onChange={(e) => setFilter(e.target.value)} autoComplete="off" />
        </div>
      </div>
      <ErrorAlert error={first.error ?? error} />
      {first.loading && !first.data ? <Loading label="Loading orders…" /> : null}
      {first.data ? (
        <>
          <p className="muted small" role="status">
            {items.length} {items.length === 1 ? 'order' : 'orders'}
            {cursor ? ' (more to load)' : ''}
          </p>
          {items.length > 0 ? <OrderTable orders={items} linkBase="/admin/orders" showUser customers={customers} caption="Orders across customers" /> : null}
        </>
      ) : null}
      {cursor ? (
        <button type="button" className="button button-secondary load-more" onClick={() => void loadMore()}>
          Load more orders
        </button>
      ) : null}
    </>
  );
}

/** Who placed the order: name and e-mail once read (see customers.ts), the id until then. */
function OrderCustomer({ userId }: { userId: string }) {
  const user = useCustomers([userId]).get(userId);
  return (
    <p className="order-customer">
      <span className="muted">Customer:</span>{' '}
      {user ? (
        <>
          <strong>{user.name}</strong> · <a href={`mailto:${user.email}`}>{user.email}</a>
        </>
      ) : (
        <>
          <code title={userId}>{shortId(userId)}</code>
          {user === null ? <span className="muted"> (account deleted)</span> : null}
        </>
      )}
    </p>
  );
}

/** One order as an operator reads it: whose it is, and its state in words about the customer. */
export function AdminOrderPage({ params }: { params: Params }) {
  return <OrderView id={params.id ?? ''} backTo="/admin/orders" backLabel="All orders" operator about={(order) => <OrderCustomer userId={order.userId} />} />;
}
