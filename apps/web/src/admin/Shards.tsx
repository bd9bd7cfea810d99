import { useEffect } from 'react';
import type { ShardOverview, ShardOverviewService } from '@agora/contracts';
import { api } from '../api';
import { formatDateTime } from '../format';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { useAsync } from '../useAsync';

/** While a move runs the page follows it: one read of `/api/v1/admin/shards` per interval. */
const MOVE_POLL_MS = 2_000;

type Member = ShardOverviewService['members'][number];
type Move = NonNullable<ShardOverviewService['move']>;

const percent = (share: number): string => `${(share * 100).toFixed(1)} %`;
const count = (n: number | null): string => (n === null ? '?' : n.toLocaleString('en-US'));

/**
 * The shard maps of orders and carts (GET /api/v1/admin/shards): each service's newest map, each
 * shard's share of the hash ring (or its key range), the shoppers and rows it holds, and the
 * newest move — followed live while it runs.
 */
export function ShardsPage() {
  const overview = useAsync((signal) => api.get<ShardOverview>('/api/v1/admin/shards', { signal }), []);
  const running = overview.data?.services.some((s) => s.move?.outcome === 'running') ?? false;
  const { reload } = overview;
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(reload, MOVE_POLL_MS);
    return () => clearInterval(timer);
  }, [running, reload]);
  return (
    <>
      <PageTitle title="Shards · Admin">Shards</PageTitle>
      <p className="muted">
        Orders and carts are spread over shard databases by shopper, by a versioned shard map. Add or remove a shard online with{' '}
        <code>npx agora shards add URL</code> or <code>npx agora shards remove ID</code>; a move shows here while it runs.
      </p>
      {overview.loading && !overview.data ? <Loading /> : null}
      <ErrorAlert error={overview.error} title="The shard maps could not be read" />
      {overview.data?.services.map((service) => <ServiceShards key={service.service} service={service} />)}
      <p>
        <button type="button" onClick={reload}>
          Refresh
        </button>
        {overview.data ? <span className="muted small"> as of {formatDateTime(overview.data.generatedAt)}</span> : null}
      </p>
    </>
  );
}

function ServiceShards({ service }: { service: ShardOverviewService }) {
  const hash = service.strategy === 'hash';
  return (
    <section aria-labelledby={`shards-${service.service}`}>
      <h2 id={`shards-${service.service}`}>
        {service.service}{' '}
        <span className="muted small">
          map version {service.version} · {service.strategy}
          {service.createdAt ? ` · written ${formatDateTime(service.createdAt)}` : ''}
        </span>
      </h2>
      {hash ? <RingBar members={service.members} label={`Hash ring of ${service.service}`} /> : null}
      <div className="table-wrap">
        <table aria-label={`Shards of ${service.service}`}>
          <thead>
            <tr>
              <th scope="col">Shard</th>
              <th scope="col">Database</th>
              <th scope="col">{hash ? 'Share of ring' : 'Key range'}</th>
              <th scope="col">Shoppers</th>
              <th scope="col">{service.counted.charAt(0).toUpperCase() + service.counted.slice(1)}</th>
            </tr>
          </thead>
          <tbody>
            {service.members.map((member) => (
              <tr key={member.id}>
                <td>{member.id}</td>
                <td className="wrap-anywhere">{member.where}</td>
                <td>{hash ? `${member.share === null ? '?' : percent(member.share)} (weight ${member.weight ?? 1})` : rangeText(member)}</td>
                {member.error === null ? (
                  <>
                    <td>{count(member.shoppers)}</td>
                    <td>{count(member.rows)}</td>
                  </>
                ) : (
                  <td colSpan={2} className="error-text">
                    unreadable: {member.error}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {service.move ? <MoveStatus move={service.move} /> : <p className="muted">No move has run yet.</p>}
    </section>
  );
}

/** The ring as one bar: each shard's segment as wide as its share of the hash space. */
function RingBar({ members, label }: { members: readonly Member[]; label: string }) {
  const described = members.map((m) => `${m.id} ${m.share === null ? '?' : percent(m.share)}`).join(', ');
  return (
    <div className="ring-bar" role="img" aria-label={`${label}: ${described}`}>
      {members.map((m, i) => (
        <span key={m.id} className={`ring-segment ring-segment-${i % 6}`} style={{ width: `${(m.share ?? 0) * 100}%` }} title={`${m.id}: ${m.share === null ? '?' : percent(m.share)}`}>
          {m.id}
        </span>
      ))}
    </div>
  );
}

function rangeText(member: Member): string {
  if (!member.range) return '?';
  return `[${member.range.from === '' ? 'start' : member.range.from}, ${member.range.to ?? 'end'})`;
}

/** The newest move: its phase while it runs, what it moved once done, why it stopped if abandoned. */
function MoveStatus({ move }: { move: Move }) {
  const versions = `version ${move.fromVersion} → ${move.toVersion}`;
  const detail = move.detail;
  const number = (key: string): number | undefined => (typeof detail[key] === 'number' ? (detail[key] as number) : undefined);
  if (move.outcome === 'running') {
    const keys = number('keys');
    return (
      <p role="status" className="move-running">
        Move {versions} running: {move.phase}
        {keys === undefined ? '' : ` (${keys} shoppers frozen)`}, since {formatDateTime(move.startedAt)}; last step {formatDateTime(move.updatedAt)}.
      </p>
    );
  }
  if (move.outcome === 'abandoned') {
    const error = typeof detail.error === 'string' ? detail.error : 'unknown error';
    return (
      <p role="status" className="error-text">
        Move {versions} abandoned at {move.phase} ({formatDateTime(move.updatedAt)}): {error}. The map is unchanged; run it again.
      </p>
    );
  }
  const moved = number('movedKeys');
  const rows = number('copiedRows');
  const frozenMs = number('frozenMs');
  return (
    <p role="status">
      Newest move {versions} done {formatDateTime(move.updatedAt)}: {moved ?? '?'} shoppers moved, {rows ?? '?'} rows copied
      {frozenMs === undefined ? '' : `, their writes held for ${frozenMs} ms`}.
    </p>
  );
}
