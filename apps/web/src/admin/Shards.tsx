import { api } from '../api';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { useAsync } from '../useAsync';

/** One shard as `/api/v1/admin/cluster` lists it (from the stored shard map of its service). */
interface ShardRow {
  service: string;
  id: string;
  version: number;
}

/** The `shards` of the cluster view, read defensively: anything that is not a shard row is left out. */
function shardsOf(body: unknown): ShardRow[] {
  const list = typeof body === 'object' && body !== null ? (body as { shards?: unknown }).shards : undefined;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (row): row is ShardRow =>
      typeof row === 'object' && row !== null && typeof (row as ShardRow).service === 'string' && typeof (row as ShardRow).id === 'string' && typeof (row as ShardRow).version === 'number',
  );
}

/** The shard maps of orders and carts: which shards each service's shoppers are spread over, and the map's version. */
export function ShardsPage() {
  const cluster = useAsync((signal) => api.get<unknown>('/api/v1/admin/cluster', { signal }), []);
  const rows = shardsOf(cluster.data);
  const services = [...new Set(rows.map((r) => r.service))];
  return (
    <>
      <PageTitle title="Shards · Admin">Shards</PageTitle>
      <p className="muted">
        Orders and carts are spread over shard databases by shopper, by a versioned shard map. Add or remove a shard online with{' '}
        <code>npx agora shards add URL</code> or <code>npx agora shards remove ID</code>; <code>npx agora shards list</code> shows the shoppers on each.
      </p>
      {cluster.loading && !cluster.data ? <Loading /> : null}
      <ErrorAlert error={cluster.error} title="The shard maps could not be read" />
      {services.map((service) => {
        const shards = rows.filter((r) => r.service === service);
        return (
          <section key={service}>
            <h2>
              {service} <span className="muted small">map version {shards[0]?.version ?? '?'}</span>
            </h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">Shard</th>
                  <th scope="col">Map version</th>
                </tr>
              </thead>
              <tbody>
                {shards.map((shard) => (
                  <tr key={shard.id}>
                    <td>{shard.id}</td>
                    <td>{shard.version}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        );
      })}
      <p>
        <button type="button" onClick={cluster.reload}>
          Refresh
        </button>
      </p>
    </>
  );
}
