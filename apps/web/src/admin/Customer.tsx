import { useState } from 'react';
import type { identity } from '@agora/contracts';
import { api } from '../api';
import type { Params } from '../match';
import { Link } from '../router';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { OrderTable } from '../pages/Orders';
import type { Order, Page } from '../types';
import { useAsync } from '../useAsync';

const PAGE_SIZE = 20;

function ordersUrl(userId: string, cursor?: string): string {
  const params = new URLSearchParams({ userId, limit: String(PAGE_SIZE) });
  if (cursor) params.set('cursor', cursor);
  return `/api/v1/admin/orders?${params.toString()}`;
}

/** One customer and their orders, newest first (the admin orders list filtered by the customer). */
export function AdminCustomerPage({ params }: { params: Params }) {
  const id = params.id ?? '';
  const user = useAsync((signal) => api.get<identity.User>(`/api/v1/admin/users/${encodeURIComponent(id)}`, { signal }), [id]);
  const first = useAsync((signal) => api.get<Page<Order>>(ordersUrl(id), { signal }), [id]);
  const [more, setMore] = useState<{ items: Order[]; nextCursor: string | null } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const orders = [...(first.data?.items ?? []), ...(more?.items ?? [])];
  const cursor = more ? more.nextCursor : (first.data?.nextCursor ?? null);

  const loadMore = async () => {
    if (!cursor) return;
    try {
      const page = await api.get<Page<Order>>(ordersUrl(id, cursor));
      setMore({ items: [...(more?.items ?? []), ...page.items], nextCursor: page.nextCursor });
    } catch (err) {
      setError(err);
    }
  };

  const name = user.data?.name ?? 'Customer';
  return (
    <>
      <p className="small">
        <Link to="/admin/customers">← All customers</Link>
      </p>
      <PageTitle title={`${name} · Customers · Admin`}>{name}</PageTitle>
      <ErrorAlert error={user.error} />
      {user.data ? (
        <p className="customer-contact">
          <a href={`mailto:${user.data.email}`}>{user.data.email}</a> · {user.data.role === 'admin' ? 'Admin' : 'Customer'}
        </p>
      ) : null}
      <h2>Orders</h2>
      <ErrorAlert error={first.error ?? error} />
      {first.loading && !first.data ? <Loading label="Loading orders…" /> : null}
      {first.data ? (
        <>
          <p className="muted small" role="status">
            {orders.length === 0 ? 'No orders yet' : `${orders.length} ${orders.length === 1 ? 'order' : 'orders'}${cursor ? ' (more to load)' : ''}`}
          </p>
          {orders.length > 0 ? <OrderTable orders={orders} linkBase="/admin/orders" caption={`Orders of ${name}`} /> : null}
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
