import type { ReactNode } from 'react';
import type { order } from '@agora/contracts';
import { api } from '../api';
import { STATUS_LABELS, formatMoney } from '../format';
import { Link, NavLink } from '../router';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { useAsync } from '../useAsync';

const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 1 });

/** The admin's landing page: today's figures (one call: GET /api/v1/admin/overview), then the sections. */
export function AdminOverviewPage() {
  const overview = useAsync((signal) => api.get<order.AdminOverview>('/api/v1/admin/overview', { signal }), []);
  return (
    <>
      <PageTitle title="Admin">Admin</PageTitle>
      <section aria-labelledby="today-heading" className="overview">
        <h2 id="today-heading">Today</h2>
        <ErrorAlert error={overview.error} title="Today's figures could not be loaded" />
        {overview.loading && !overview.data ? <Loading label="Loading today's figures…" /> : null}
        {overview.data ? <TodayFigures overview={overview.data} /> : null}
      </section>
      <ul className="admin-cards">
        <AdminCard to="/admin/products" title="Products">
          Create products and edit names, prices and variants.
        </AdminCard>
        <AdminCard to="/admin/stock" title="Stock">
          Set the stock on hand for every SKU.
        </AdminCard>
        <AdminCard to="/admin/orders" title="Orders">
          Every order across customers, filtered by status.
        </AdminCard>
        <AdminCard to="/admin/customers" title="Customers">
          Every account, newest first; search by name or e-mail and open a customer's orders.
        </AdminCard>
        <AdminCard to="/admin/operations" title="Operations">
          Request rate, p99 latency, checkouts and stock movements, live; instances and breakers.
        </AdminCard>
        <AdminCard to="/admin/flash-sales" title="Flash sales">
          Create a sale for a SKU and watch its units, tickets, orders and drift live.
        </AdminCard>
      </ul>
    </>
  );
}

function TodayFigures({ overview }: { overview: order.AdminOverview }) {
  const { orders, sales, conversion, stockAlerts } = overview;
  const since = new Date(overview.since);
  const shown = orders.byStatus.filter((s) => s.count > 0);
  return (
    <>
      <p className="muted small">
        Since midnight UTC ({since.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })} your time).
      </p>
      <dl className="stats overview-stats">
        <div className="stat">
          <dt>Sales</dt>
          <dd>{sales.length === 0 ? 'None yet' : sales.map((m) => formatMoney(m)).join(' + ')}</dd>
          <dd className="stat-note small muted">totals of today's orders now confirmed</dd>
        </div>
        <div className="stat">
          <dt>Orders</dt>
          <dd>{orders.total}</dd>
          <dd className="stat-note small muted">opened today, any status</dd>
        </div>
        <div className="stat">
          <dt>Conversion</dt>
          <dd>{conversion.rate === null ? '—' : percent.format(conversion.rate)}</dd>
          <dd className="stat-note small muted">
            {conversion.confirmed} of {conversion.attempted} checkouts confirmed
          </dd>
        </div>
        <div className="stat">
          <dt>Stock alerts</dt>
          <dd>
            {stockAlerts.items.length}
            {stockAlerts.more ? '+' : ''}
          </dd>
          <dd className="stat-note small muted">SKUs with {stockAlerts.threshold} or fewer available</dd>
        </div>
      </dl>
      <div className="overview-details">
        <div>
          <h3>Orders today by status</h3>
          {shown.length === 0 ? (
            <p className="muted">No orders yet today.</p>
          ) : (
            <ul className="overview-statuses">
              {shown.map((s) => (
                <li key={s.status}>
                  <Link to={`/admin/orders?status=${s.status}`}>{STATUS_LABELS[s.status]}</Link>
                  <span className="overview-count">{s.count}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div>
          <h3>Stock alerts</h3>
          {stockAlerts.items.length === 0 ? (
            <p className="muted">No SKU has {stockAlerts.threshold} or fewer units available.</p>
          ) : (
            <>
              <ul className="overview-alerts">
                {stockAlerts.items.map((level) => (
                  <li key={level.sku}>
                    <code>{level.sku}</code>
                    <span className={level.available === 0 ? 'overview-count overview-out' : 'overview-count'}>
                      {level.available === 0 ? 'out of stock' : `${level.available} available`}
                    </span>
                  </li>
                ))}
              </ul>
              <p className="small">
                {stockAlerts.more ? 'More SKUs are low too. ' : ''}
                <Link to="/admin/stock">Restock on the Stock page</Link>
              </p>
            </>
          )}
        </div>
      </div>
    </>
  );
}

function AdminCard({ to, title, children }: { to: string; title: string; children: ReactNode }) {
  return (
    <li className="admin-card">
      <h2>
        <NavLink to={to} className="stretched">
          {title}
        </NavLink>
      </h2>
      <p className="muted">{children}</p>
    </li>
  );
}
