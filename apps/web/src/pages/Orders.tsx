import { useState } from 'react';
import { api } from '../api';
import { formatDateTime, formatMoney, shortId } from '../format';
import { awaitsPayment, formatDeadline } from '../payment-window';
import { Link } from '../router';
import type { Order, Page, User } from '../types';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { StatusBadge } from '../ui/StatusBadge';
import { useAsync } from '../useAsync';

const PAGE_SIZE = 20;

/** A table of orders, shared by "my orders" and the admin's orders across users. */
interface OrderTableProps {
  orders: Order[];
  linkBase: string;
  /** The admin's list: a Customer column, named from `customers` once known (the id until then). */
  showUser?: boolean;
  customers?: ReadonlyMap<string, User | null>;
  caption: string;
}

export function OrderTable({ orders, linkBase, showUser = false, customers, caption }: OrderTableProps) {
  return (
    <div className="table-wrap">
      <table className="orders-table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Order</th>
            <th scope="col">Placed</th>
            {showUser ? <th scope="col">Customer</th> : null}
            <th scope="col">Items</th>
            <th scope="col" className="num">
              Total
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {orders.map((order) => (
            <tr key={order.id}>
              <th scope="row">
                <Link to={`${linkBase}/${order.id}`}>
                  <span className="visually-hidden">Order </span>#{shortId(order.id)}
                </Link>
              </th>
              <td>{formatDateTime(order.createdAt)}</td>
              {showUser ? (
                <td>
                  <Customer user={customers?.get(order.userId)} id={order.userId} />
                </td>
              ) : null}
              <td>{order.lines.reduce((n, l) => n + l.quantity, 0)}</td>
              <td className="num">{formatMoney(order.total)}</td>
              <td>
                <StatusBadge status={order.status} />
                <PaymentDue order={order} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * A flash-sale order still to be paid: "awaiting payment" and by when, or that its window closed
 * (the order expires a moment later). The time is read when the list renders; the order page counts down.
 */
function PaymentDue({ order }: { order: Order }) {
  if (!awaitsPayment(order)) return null;
  const now = Date.now();
  if (new Date(order.payBy).getTime() <= now) return <span className="muted small block">payment window closed</span>;
  return (
    <span className="small block">
      <strong>awaiting payment</strong> <span className="muted">· pay by {formatDeadline(order.payBy, now)}</span>
    </span>
  );
}

function Customer({ user, id }: { user: User | null | undefined; id: string }) {
  if (!user) {
    return (
      <>
        <code title={id}>{shortId(id)}</code>
        {user === null ? <span className="muted small block">account deleted</span> : null}
      </>
    );
  }
  return (
    <>
      {user.name}
      <span className="muted small block">{user.email}</span>
    </>
  );
}

export function OrdersPage() {
  const first = useAsync((signal) => api.get<Page<Order>>(`/api/v1/orders?limit=${PAGE_SIZE}`, { signal }), []);
  const [more, setMore] = useState<{ items: Order[]; nextCursor: string | null } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loadingMore, setLoadingMore] = useState(false);
  const items = [...(first.data?.items ?? []), ...(more?.items ?? [])];
  const cursor = more ? more.nextCursor : (first.data?.nextCursor ?? null);

  const loadMore = async () => {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await api.get<Page<Order>>(`/api/v1/orders?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(cursor)}`);
      setMore({ items: [...(more?.items ?? []), ...page.items], nextCursor: page.nextCursor });
    } catch (err) {
      setError(err);
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <>
      <PageTitle title="Your orders">Your orders</PageTitle>
      {first.loading ? <Loading label="Loading your orders…" /> : null}
      <ErrorAlert error={first.error ?? error} />
      {first.data && items.length === 0 ? (
        <div className="empty">
          <p>You have not ordered anything yet.</p>
          <Link to="/search" className="button">
            Start shopping
          </Link>
        </div>
      ) : null}
      {items.length > 0 ? <OrderTable orders={items} linkBase="/orders" caption="Your orders, newest first" /> : null}
      {cursor ? (
        <button type="button" className="button button-secondary load-more" onClick={() => void loadMore()} disabled={loadingMore}>
          {loadingMore ? 'Loading…' : 'Load more orders'}
        </button>
      ) : null}
    </>
  );
}
