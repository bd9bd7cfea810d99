import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api, messageOf } from '../api';
import { ErrorAlert, Loading } from '../ui/Alert';
import { PageTitle } from '../ui/PageTitle';
import { ageText, normalizeCluster, type ClusterView } from './cluster';
import { LineChart } from './LineChart';
import { pointBetween, scrape, snapshot, type OpsPoint, type OpsSnapshot, type Scrape } from './opsModel';

const POLL_MS = 3_000;
/** Three minutes of points at the poll interval. */
const WINDOW = 60;
/** While the cluster endpoint answers 404 (single process), ask again this rarely. */
const CLUSTER_RETRY_MS = 30_000;

type ClusterState = { kind: 'loading' } | { kind: 'single' } | { kind: 'ok'; view: ClusterView } | { kind: 'raw'; body: unknown } | { kind: 'error'; error: unknown };

/** 1234 → "1234", 12.34 → "12.3", 0.25 → "0.25", 2 → "2". */
function compact(v: number): string {
  const abs = Math.abs(v);
  const text = abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2);
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

function useMetrics(paused: boolean) {
  const [points, setPoints] = useState<OpsPoint[]>([]);
  const [snap, setSnap] = useState<OpsSnapshot | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const last = useRef<Scrape | undefined>(undefined);

  const poll = useCallback(async (signal: AbortSignal) => {
    try {
      const response = await fetch('/metrics', { signal, headers: { accept: 'text/plain' } });
      if (!response.ok) throw new Error(`/metrics answered HTTP ${response.status}`);
      const current = scrape(await response.text(), Date.now());
      const before = last.current;
      last.current = current;
      setSnap(snapshot(current));
      setError(undefined);
      if (before) setPoints((p) => [...p, pointBetween(before, current)].slice(-WINDOW));
    } catch (err) {
      if (signal.aborted) return;
      setError(messageOf(err));
    }
  }, []);

  useEffect(() => {
    if (paused) return;
    const controller = new AbortController();
    void poll(controller.signal);
    const timer = window.setInterval(() => void poll(controller.signal), POLL_MS);
    return () => {
      controller.abort();
      window.clearInterval(timer);
      // After a pause the next rate is measured afresh, not across the gap.
      last.current = undefined;
    };
  }, [paused, poll]);

  return { points, snap, error };
}

function useCluster(paused: boolean): [ClusterState, () => void] {
  const [state, setState] = useState<ClusterState>({ kind: 'loading' });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (paused) return;
    const controller = new AbortController();
    let timer: number | undefined;
    const load = async () => {
      let next = POLL_MS;
      try {
        const body = await api.get<unknown>('/api/v1/admin/cluster', { signal: controller.signal });
        const view = normalizeCluster(body);
        setState(view ? { kind: 'ok', view } : { kind: 'raw', body });
      } catch (err) {
        if (controller.signal.aborted) return;
        if (err instanceof ApiError && (err.status === 404 || err.status === 501)) {
          setState({ kind: 'single' });
          next = CLUSTER_RETRY_MS;
        } else {
          setState({ kind: 'error', error: err });
        }
      }
      timer = window.setTimeout(() => void load(), next);
    };
    void load();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [paused, generation]);
  return [state, () => setGeneration((g) => g + 1)];
}

function stateClass(state: string): string {
  const s = state.toLowerCase();
  if (['up', 'healthy', 'alive', 'ok', 'ready', 'closed', 'passing'].includes(s)) return 'state-ok';
  if (['half-open', 'half_open', 'halfopen', 'suspect', 'draining', 'degraded'].includes(s)) return 'state-warn';
  return 'state-bad';
}

/**
 * `agora start`: one process. Without a cluster view (404) there is nothing to list; with one,
 * the table below lists each service once, in process, and the note says what that means.
 */
function SingleProcessNote({ retry, services }: { retry?: () => void; services?: number }) {
  return (
    <div className="single-mode" role="status">
      {services === undefined ? (
        <p>
          <strong>Single-process mode: no cluster data.</strong> Every service runs inside this one process (<code>npm start</code>), so there are no instances to
          discover, heartbeats to watch or breakers between processes. Run <code>agora cluster</code> to see them here.
        </p>
      ) : (
        <p>
          <strong>Single-process mode: {services === 1 ? 'one service' : `${services} services`} in this one process.</strong> Each is listed below as one in-process
          instance (<code>npm start</code>); there are no heartbeats between processes or breakers to watch. Run <code>agora cluster</code> for instances of their
          own.
        </p>
      )}
      {retry ? (
        <button type="button" className="button button-secondary button-small" onClick={retry}>
          Check again
        </button>
      ) : null}
    </div>
  );
}

function ClusterPanel({ state, retry }: { state: ClusterState; retry: () => void }) {
  if (state.kind === 'loading') return <Loading label="Asking the cluster…" />;
  if (state.kind === 'single') return <SingleProcessNote retry={retry} />;
  if (state.kind === 'error') return <ErrorAlert error={state.error} title="The cluster view could not be loaded." />;
  if (state.kind === 'raw') {
    return (
      <>
        <p className="muted">The cluster answered in a shape this page does not know yet:</p>
        <pre className="raw">{JSON.stringify(state.body, null, 2)}</pre>
      </>
    );
  }
  const { view } = state;
  const services = [...new Set(view.instances.map((i) => i.service))].sort();
  const single = view.mode === 'single-process';
  return (
    <>
      {single ? <SingleProcessNote retry={retry} services={services.length > 0 ? services.length : undefined} /> : null}
      {view.instances.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption>Instances per service</caption>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Instance</th>
                <th scope="col">Address</th>
                <th scope="col" className="num">
                  Heartbeat age
                </th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {services.flatMap((service) =>
                view.instances
                  .filter((i) => i.service === service)
                  .map((i) => (
                    <tr key={`${service}/${i.id}`}>
                      <th scope="row">
                        {service}
                        {view.strategies[service] ? <span className="muted small block">{view.strategies[service]}</span> : null}
                      </th>
                      <td>
                        <code>{i.id}</code>
                        {i.zone ? <span className="muted small block">zone {i.zone}</span> : null}
                      </td>
                      <td>{i.url ? <code>{i.url}</code> : '–'}</td>
                      <td className="num">{i.heartbeatAgeMs === undefined ? '–' : ageText(i.heartbeatAgeMs)}</td>
                      <td>
                        <span className={`state ${stateClass(i.state)}`}>{i.state}</span>
                      </td>
                    </tr>
                  )),
              )}
            </tbody>
          </table>
        </div>
      ) : single ? null : (
        <p className="muted">No instances reported.</p>
      )}
      {view.breakers.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption>Circuit breakers</caption>
            <thead>
              <tr>
                <th scope="col">Breaker</th>
                <th scope="col">State</th>
                <th scope="col" className="num">
                  Failures in a row
                </th>
              </tr>
            </thead>
            <tbody>
              {view.breakers.map((b) => (
                <tr key={b.name}>
                  <th scope="row">
                    {b.name}
                    {b.url ? <code className="muted small block">{b.url}</code> : null}
                  </th>
                  <td>
                    <span className={`state ${stateClass(b.state)}`}>{b.state}</span>
                  </td>
                  <td className="num">{b.failures ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : single ? null : (
        <p className="muted">No circuit breakers reported.</p>
      )}
      {view.shardCount > 0 ? <p className="muted small">{view.shardCount} shards in the maps: see the Shards page.</p> : null}
    </>
  );
}

function Stat({ label, value, note }: { label: string; value: string; note?: string | undefined }) {
  return (
    <div className="stat">
      <dt>{label}</dt>
      <dd>
        {value}
        {note ? (
          <>
            {' '}
            <span className="muted small block stat-note">({note})</span>
          </>
        ) : null}
      </dd>
    </div>
  );
}

function uptime(seconds: number | undefined): string {
  if (seconds === undefined) return '–';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const STOCK_TONES: Record<string, number> = { held: 1, committed: 2, released: 3, expired: 4, out_of_stock: 5, restocked: 6 };

export function OperationsPage() {
  const [paused, setPaused] = useState(false);
  const { points, snap, error } = useMetrics(paused);
  const [cluster, retryCluster] = useCluster(paused);
  const times = points.map((p) => p.at);
  const stockEvents = snap?.stockEvents.length ? snap.stockEvents : ['held', 'committed', 'released'];

  return (
    <>
      <div className="title-row">
        <PageTitle title="Operations · Admin">Operations</PageTitle>
        <button type="button" className="button button-secondary button-small" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
          {paused ? 'Resume live updates' : 'Pause live updates'}
        </button>
      </div>
      <p className="muted small">
        From <code>/metrics</code> every {POLL_MS / 1000} s{paused ? ' (paused)' : ''}; rates are computed here between scrapes. The dashboard's own requests are not counted.
      </p>
      {error ? <ErrorAlert error={new Error(error)} title="Metrics could not be read." /> : null}

      {snap ? (
        <dl className="stats">
          <Stat label="Requests since start" value={snap.totals.requests.toLocaleString()} />
          <Stat
            label="Checkouts confirmed"
            value={snap.totals.checkoutsOk.toLocaleString()}
            note={snap.totals.checkoutsPending > 0 ? `${snap.totals.checkoutsPending.toLocaleString()} of them paid later: 202` : undefined}
          />
          <Stat label="Checkouts failed" value={snap.totals.checkoutsFailed.toLocaleString()} />
          <Stat label="Memory (RSS)" value={snap.totals.residentMb === undefined ? '–' : `${snap.totals.residentMb.toFixed(0)} MB`} />
          <Stat label="Event loop p99" value={snap.totals.eventLoopP99Ms === undefined ? '–' : `${snap.totals.eventLoopP99Ms.toFixed(1)} ms`} />
          <Stat label="Uptime" value={uptime(snap.totals.uptimeSeconds)} />
        </dl>
      ) : (
        <Loading label="Reading metrics…" />
      )}

      <div className="charts">
        <LineChart
          title="Request rate"
          unit="req/s"
          times={times}
          format={compact}
          series={[
            { name: 'All requests', tone: 1, values: points.map((p) => p.requestRate) },
            { name: '5xx errors', tone: 5, values: points.map((p) => p.errorRate) },
          ]}
        />
        <LineChart
          title="Latency at the gateway"
          unit="ms"
          times={times}
          format={compact}
          series={[
            { name: 'p99', tone: 4, values: points.map((p) => p.p99Ms) },
            { name: 'p50', tone: 2, values: points.map((p) => p.p50Ms) },
          ]}
        />
        <LineChart
          title={`Checkouts${snap?.checkoutSource === 'gateway' ? ' (from gateway responses)' : ''}`}
          unit="/min"
          times={times}
          format={compact}
          series={[
            { name: 'Confirmed', tone: 2, values: points.map((p) => p.checkoutsOk) },
            { name: 'Failed', tone: 5, values: points.map((p) => p.checkoutsFailed) },
          ]}
        />
        <LineChart
          title="Stock movements (reservations)"
          unit="/min"
          times={times}
          format={compact}
          series={stockEvents.map((event, i) => ({ name: event.replace(/_/g, ' '), tone: STOCK_TONES[event] ?? ((i % 6) + 1), values: points.map((p) => p.stock[event] ?? 0) }))}
        />
      </div>

      <section aria-labelledby="cluster-heading" className="cluster">
        <h2 id="cluster-heading">Cluster: instances and breakers</h2>
        <ClusterPanel state={cluster} retry={retryCluster} />
      </section>
    </>
  );
}
