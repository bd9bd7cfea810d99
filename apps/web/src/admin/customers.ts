import { useEffect, useState } from 'react';
import { ApiError, api } from '../api';
import type { User } from '../types';

/**
 * Names for the user ids orders carry (GET /api/v1/admin/users/:id, once per id in this tab):
 * a page of orders has a few customers, and a name is not worth a join in the order service.
 * `null` is a user that no longer exists.
 */
const known = new Map<string, User | null>();

async function load(id: string, signal: AbortSignal): Promise<void> {
  try {
    known.set(id, await api.get<User>(`/api/v1/admin/users/${encodeURIComponent(id)}`, { signal }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) known.set(id, null);
    else if (!signal.aborted) console.warn('customer could not be read', id, err);
  }
}

/** The customers among `ids` known so far; the rest are read, and the map follows as they arrive. */
export function useCustomers(ids: readonly string[]): ReadonlyMap<string, User | null> {
  const wanted = [...new Set(ids)].sort().join(' ');
  const [, setVersion] = useState(0);
  useEffect(() => {
    const missing = wanted ? wanted.split(' ').filter((id) => !known.has(id)) : [];
    if (missing.length === 0) return;
    const controller = new AbortController();
    void Promise.all(missing.map((id) => load(id, controller.signal))).then(() => {
      if (!controller.signal.aborted) setVersion((v) => v + 1);
    });
    return () => controller.abort();
  }, [wanted]);
  return known;
}
