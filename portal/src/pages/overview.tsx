// Overview: delivery counts by status, outcomes and latency over time
// (uPlot), the success rate, and the endpoints failing most (stats/ and
// stats/endpoints/). Every number is the API's, unchanged.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { call, qs, STATUSES } from '../api';
import { href, navigate } from '../router';
import { ErrorLine, ms, percent, time, useLoad } from '../ui';

interface StatsPoint {
  start: string;
  delivered: number;
  failed: number;
  rate_limited: number;
  dead_letter: number;
  attempts: number;
  success_rate: number | null;
  latency_p50_ms: number | null;
  latency_p99_ms: number | null;
}
interface Stats {
  from: string;
  to: string;
  bucket: string;
  points: StatsPoint[];
  total: Omit<StatsPoint, 'start'>;
  counts: Record<string, number>;
}
interface EndpointStats {
  endpoint_id: string;
  url: string;
  description: string;
  circuit_state: string;
  failing_since: string | null;
  disabled_reason: string | null;
  is_active: boolean;
  attempts: number;
  delivered: number;
  failed: number;
  rate_limited: number;
  dead_letter: number;
  success_rate: number | null;
  in_flight: number;
}

export const RANGES: Record<string, { label: string; seconds: number; bucket: string }> = {
  hour: { label: 'Last hour', seconds: 3600, bucket: '1m' },
  day: { label: 'Last day', seconds: 86400, bucket: '15m' },
  week: { label: 'Last week', seconds: 7 * 86400, bucket: '1h' },
};

function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function Chart(props: {
  title: string;
  points: StatsPoint[];
  series: { key: keyof StatsPoint; label: string; color: string }[];
  testid: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current!;
    const xs = props.points.map((p) => Date.parse(p.start) / 1000);
    const data: uPlot.AlignedData = [
      xs,
      ...props.series.map((s) => props.points.map((p) => p[s.key] as number | null)),
    ];
    const width = Math.max(240, Math.min(el.clientWidth || 600, 960));
    const plot = new uPlot(
      {
        width,
        height: 220,
        series: [
          {},
          // Buckets without attempts have no latency (null): join across
          // them, and mark each point so that a lone one still shows.
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            spanGaps: true,
            points: { show: true, size: 4 },
          })),
        ],
        axes: [{}, { size: 50 }],
        // The API's times are UTC, and so are the tables': the axis too.
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      },
      data,
      el,
    );
    return () => plot.destroy();
  }, [props.points]);
  return (
    <figure class="chart" data-testid={props.testid}>
      <figcaption>{props.title}</figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={props.title} />
    </figure>
  );
}

export function Overview(props: { params: URLSearchParams }) {
  const range = RANGES[props.params.get('range') ?? ''] ? props.params.get('range')! : 'hour';
  const r = RANGES[range];
  const load = useLoad(async () => {
    const to = new Date();
    const from = new Date(to.getTime() - r.seconds * 1000);
    const window = { from: isoSeconds(from), to: isoSeconds(to) };
    const [stats, top] = await Promise.all([
      call<Stats>('GET', 'stats/' + qs({ ...window, bucket: r.bucket })),
      call<{ data: EndpointStats[] }>('GET', 'stats/endpoints/' + qs({ ...window, limit: 10 })),
    ]);
    return { stats, top: top.data };
  }, [range]);

  return (
    <section aria-labelledby="overview-title">
      <div class="page-head">
        <h1 id="overview-title">Overview</h1>
        <label>
          Time range{' '}
          <select
            name="range"
            value={range}
            onChange={(e) => navigate('/overview', { range: (e.target as HTMLSelectElement).value })}
          >
            {Object.entries(RANGES).map(([k, v]) => (
              <option value={k}>{v.label}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={load.reload}>
          Refresh
        </button>
      </div>
      <ErrorLine error={load.error} />
      {load.data && (
        <>
          <h2>Deliveries now</h2>
          <ul class="cards" data-testid="counts">
            {STATUSES.map((s) => (
              <li>
                <a href={href('/deliveries', { status: s })}>
                  <span class="card-label">{s}</span>
                  <span class="card-value" data-testid={'count-' + s}>
                    {load.data!.stats.counts[s] ?? 0}
                  </span>
                </a>
              </li>
            ))}
          </ul>
          <h2>{r.label}</h2>
          <ul class="cards">
            <li>
              <span class="card-label">success rate</span>
              <span class="card-value" data-testid="success-rate">
                {percent(load.data.stats.total.success_rate)}
              </span>
            </li>
            <li>
              <span class="card-label">attempts</span>
              <span class="card-value" data-testid="total-attempts">
                {load.data.stats.total.attempts}
              </span>
            </li>
            <li>
              <span class="card-label">latency p50</span>
              <span class="card-value" data-testid="p50">
                {ms(load.data.stats.total.latency_p50_ms)}
              </span>
            </li>
            <li>
              <span class="card-label">latency p99</span>
              <span class="card-value" data-testid="p99">
                {ms(load.data.stats.total.latency_p99_ms)}
              </span>
            </li>
          </ul>
          <div class="charts">
            <Chart
              title={`Outcomes per ${load.data.stats.bucket}`}
              testid="chart-outcomes"
              points={load.data.stats.points}
              series={[
                { key: 'delivered', label: 'delivered', color: '#1a7f37' },
                { key: 'failed', label: 'failed', color: '#cf222e' },
                { key: 'rate_limited', label: 'rate limited', color: '#9a6700' },
                { key: 'dead_letter', label: 'dead letter', color: '#6e40c9' },
              ]}
            />
            <Chart
              title="Latency (ms)"
              testid="chart-latency"
              points={load.data.stats.points}
              series={[
                { key: 'latency_p50_ms', label: 'p50', color: '#0969da' },
                { key: 'latency_p99_ms', label: 'p99', color: '#bc4c00' },
              ]}
            />
          </div>
          <h2>Endpoints failing most</h2>
          <div class="table-wrap">
            <table data-testid="top-endpoints">
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Circuit</th>
                  <th scope="col">Failing since</th>
                  <th scope="col">Failed</th>
                  <th scope="col">Dead letters</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Success rate</th>
                  <th scope="col">In flight</th>
                </tr>
              </thead>
              <tbody>
                {load.data.top.map((e) => (
                  <tr data-endpoint={e.endpoint_id}>
                    <td data-label="Endpoint">
                      <a href={href('/deliveries', { endpoint_id: e.endpoint_id })}>{e.url}</a>
                      {!e.is_active && <span class="badge s-dead_letter">disabled: {e.disabled_reason}</span>}
                    </td>
                    <td data-label="Circuit">{e.circuit_state}</td>
                    <td data-label="Failing since">{time(e.failing_since)}</td>
                    <td data-label="Failed">{e.failed}</td>
                    <td data-label="Dead letters">{e.dead_letter}</td>
                    <td data-label="Attempts">{e.attempts}</td>
                    <td data-label="Success rate">{percent(e.success_rate)}</td>
                    <td data-label="In flight">{e.in_flight}</td>
                  </tr>
                ))}
                {load.data.top.length === 0 && (
                  <tr>
                    <td colSpan={8}>No attempts in this window.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
