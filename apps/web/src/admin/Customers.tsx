import { useState } from 'react';
import type { identity } from '@agora/contracts';
import { api } from '../api';
import { formatDateTime } from '../format';
import { Link } from '../router';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { useAsync } from '../useAsync';
import { useSettled } from './Products';

const PAGE_SIZE = 50;

function url(q: string, cursor?: string): string {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (q) params.set('q', q);
  if (cursor) params.set('cursor', cursor);
  return `/api/v1/admin/users?${params.toString()}`;
}

/** Every account, newest first; the search asks the API (part of a name or e-mail, any case). */
export function AdminCustomersPage() {
  const [text, setText] = useState('');
  const q = useSettled(text);
  const first = useAsync((signal) => api.get<identity.UserPage>(url(q), { signal }), [q]);
  const [more, setMore] = useState<{ q: string; items: identity.ListedUser[]; nextCursor: string | null } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const extra = more?.q === q ? more : undefined;
  const users = [...(first.data?.items ?? []), ...(extra?.items ?? [])];
  const cursor = extra ? extra.nextCursor : (first.data?.nextCursor ?? null);

  const loadMore = async () => {
    if (!cursor) return;
    try {
      const page = await api.get<identity.UserPage>(url(q, cursor));
      setMore({ q, items: [...(extra?.items ?? []), ...page.items], nextCursor: page.nextCursor });
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <PageTitle title="Customers · Admin">Customers</PageTitle>
      <div className="field search-field">
        <label htmlFor="customer-search">Name or e-mail</label>
        <input id="customer-search" type="search" value={text} onChange={(e) => setText(e.target.value)} autoComplete="off" maxLength={200} />
      </div>
      <ErrorAlert error={first.error ?? error} />
      {first.loading && !first.data ? <Loading label="Loading customers…" /> : null}
      {first.data ? (
        <>
          <p className="muted small" role="status">
            {users.length === 0 ? (q ? `No customer matches “${q}”` : 'No customers yet') : `${users.length} ${users.length === 1 ? 'customer' : 'customers'}${cursor ? ' (more to load)' : ''}`}
          </p>
          {users.length > 0 ? (
            <div className="table-wrap">
              <table className="data-table customers-table">
                <caption className="visually-hidden">Customers, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">E-mail</th>
                    <th scope="col">Joined</th>
                    <th scope="col">Role</th>
                  </tr>
                </thead>
                <tbody>
                  {users.map((user) => (
                    <tr key={user.id}>
                      <th scope="row">
                        <Link to={`/admin/customers/${user.id}`}>{user.name}</Link>
                      </th>
                      <td>{user.email}</td>
                      <td>{formatDateTime(user.createdAt)}</td>
                      <td>{user.role === 'admin' ? 'Admin' : 'Customer'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </>
      ) : null}
      {cursor ? (
        <button type="button" className="button button-secondary load-more" onClick={() => void loadMore()}>
          Load more customers
        </button>
      ) : null}
    </>
  );
}
