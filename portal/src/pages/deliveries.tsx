// Deliveries: filters kept in the URL hash, cursor pages fetched with
// count=false (a page costs the same at a million rows), refresh and
// auto-refresh keeping the filter, and for dead letters "Replay all N" as
// a replay job with a progress bar.
import { useEffect, useRef, useState } from 'preact/hooks';
import { call, Delivery, Endpoint, ListPage, qs, ReplayJob, STATUSES } from '../api';
import { href, navigate } from '../router';
import { Dialog, ErrorLine, StatusBadge, time, useLoad } from '../ui';

const FILTERS = ['status', 'endpoint_id', 'event_type', 'created_after', 'created_before'] as const;
type Filter = Partial<Record<(typeof FILTERS)[number], string>>;

function filterOf(params: URLSearchParams): Filter {
  const f: Filter = {};
  for (const k of FILTERS) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  return f;
}

// <input type="datetime-local"> is local time without a zone; the API
// wants UTC ISO 8601.
function localToIso(v: string): string {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d.getTime()) ? v : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
function isoToLocal(v: string | undefined): string {
  if (!v) return '';
  const d = new Date(v);
  if (isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function BulkReplay(props: { filter: Filter; onClose: () => void }) {
  const [count, setCount] = useState<number | null>(null);
  const [job, setJob] = useState<ReplayJob | null>(null);
  const [error, setError] = useState<unknown>(null);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => {
    call<ListPage<Delivery>>('GET', 'deliveries/' + qs({ ...props.filter, page_size: 1 })).then(
      (p) => setCount(p.pagination.total_count ?? 0),
      setError,
    );
    return () => clearTimeout(timer.current);
  }, []);
  const poll = (id: string) => {
    call<ReplayJob>('GET', `replay-jobs/${id}/`).then(
      (j) => {
        setJob(j);
        if (j.status === 'running') timer.current = window.setTimeout(() => poll(id), 500);
      },
      setError,
    );
  };
  const start = async () => {
    setError(null);
    try {
      const { endpoint_id, event_type, created_after, created_before } = props.filter;
      const j = await call<ReplayJob>('POST', 'deliveries/replay/', {
        endpoint_id,
        event_type,
        created_after,
        created_before,
      });
      setJob(j);
      if (j.status === 'running') poll(j.id);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <Dialog title="Replay dead letters" onClose={props.onClose} testid="bulk-dialog">
      {count === null && !error && <p aria-busy="true">Counting…</p>}
      {count !== null && !job && (
        <>
          <p data-testid="bulk-confirm">
            Replay all <strong data-testid="bulk-count">{count}</strong> dead letters matching this filter? Each gets
            a new delivery; the originals stay as they are.
          </p>
          <div class="actions">
            <button type="button" onClick={start} disabled={count === 0}>
              Replay {count}
            </button>
            <button type="button" onClick={props.onClose}>
              Cancel
            </button>
          </div>
        </>
      )}
      {job && (
        <div data-testid="bulk-progress">
          <label for="bulk-bar">
            {job.status === 'running' ? 'Replaying' : job.status === 'done' ? 'Done' : 'Failed'}:{' '}
            <span data-testid="bulk-replayed">{job.replayed}</span> of <span data-testid="bulk-total">{job.total}</span>
          </label>
          <progress id="bulk-bar" max={job.total || 1} value={job.status === 'done' && !job.total ? 1 : job.replayed} />
          {job.error && <p class="error">{job.error}</p>}
          <p data-testid="bulk-status" class="muted">
            job {job.id}: {job.status}
          </p>
          <div class="actions">
            <button type="button" onClick={props.onClose}>
              Close
            </button>
          </div>
        </div>
      )}
      <ErrorLine error={error} />
    </Dialog>
  );
}

function Publish(props: { onClose: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ id: string; deliveries: string[] } | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    setError(null);
    try {
      let data: unknown;
      try {
        data = JSON.parse(String(f.get('data') || '{}'));
      } catch (err) {
        throw new Error('data: not JSON (' + String(err) + ')');
      }
      setResult(await call('POST', 'events/', { type: String(f.get('type')).trim(), data }));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Dialog title="Publish an event" onClose={props.onClose}>
      <form class="grid-form" onSubmit={submit}>
        <label for="pub-type">Event type</label>
        <input id="pub-type" name="type" required />
        <label for="pub-data">Data (a JSON object)</label>
        <textarea id="pub-data" name="data" rows={4} defaultValue="{}" />
        <ErrorLine error={error} />
        {result && (
          <p data-testid="publish-result">
            Event {result.id}: {result.deliveries.length} deliveries
          </p>
        )}
        <div class="actions">
          <button type="submit">Publish</button>
          <button type="button" onClick={props.onClose}>
            Close
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function Deliveries(props: { params: URLSearchParams; operator: boolean }) {
  const filter = filterOf(props.params);
  const key = JSON.stringify(filter);
  // The cursors of the pages before this one, for "Previous".
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.length ? cursors[cursors.length - 1] : '';
  const [auto, setAuto] = useState(false);
  const [modal, setModal] = useState<'bulk' | 'publish' | null>(null);
  useEffect(() => setCursors([]), [key]);
  const endpoints = useLoad(
    () => call<ListPage<Endpoint>>('GET', 'endpoints/?page_size=50').then((p) => p.data),
    [],
  );
  const load = useLoad(
    () =>
      call<ListPage<Delivery>>(
        'GET',
        'deliveries/' + qs({ ...filter, page_size: 50, count: 'false', cursor: cursor || undefined }),
      ),
    [key, cursor],
  );
  useEffect(() => {
    if (!auto) return;
    const t = window.setInterval(load.reload, 5000);
    return () => clearInterval(t);
  }, [auto, key, cursor]);

  const apply = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const next: Record<string, string> = {};
    for (const k of FILTERS) {
      let v = String(f.get(k) ?? '').trim();
      if (k === 'created_after' || k === 'created_before') v = localToIso(v);
      if (v) next[k] = v;
    }
    navigate('/deliveries', next);
  };
  const epUrl = new Map((endpoints.data ?? []).map((e) => [e.id, e.url]));

  return (
    <section aria-labelledby="deliveries-title">
      <div class="page-head">
        <h1 id="deliveries-title">Deliveries</h1>
        {props.operator && (
          <button type="button" onClick={() => setModal('publish')}>
            Publish event
          </button>
        )}
      </div>
      <form class="filters" onSubmit={apply} aria-label="Filters" key={key}>
        <label>
          Status
          <select name="status">
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s} selected={s === filter.status}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Endpoint
          <select name="endpoint_id">
            <option value="">any</option>
            {filter.endpoint_id && !epUrl.has(filter.endpoint_id) && (
              <option value={filter.endpoint_id} selected>
                {filter.endpoint_id}
              </option>
            )}
            {(endpoints.data ?? []).map((e) => (
              <option value={e.id} selected={e.id === filter.endpoint_id}>
                {e.url}
              </option>
            ))}
          </select>
        </label>
        <label>
          Event type
          <input name="event_type" defaultValue={filter.event_type ?? ''} placeholder="order.created" />
        </label>
        <label>
          Created after
          <input name="created_after" type="datetime-local" step="1" defaultValue={isoToLocal(filter.created_after)} />
        </label>
        <label>
          Created before
          <input name="created_before" type="datetime-local" step="1" defaultValue={isoToLocal(filter.created_before)} />
        </label>
        <div class="actions">
          <button type="submit">Apply</button>
          <a href="#/deliveries">Clear</a>
        </div>
      </form>
      <div class="toolbar">
        <button type="button" onClick={load.reload}>
          Refresh
        </button>
        <label class="check">
          <input type="checkbox" name="auto_refresh" checked={auto} onChange={(e) => setAuto((e.target as HTMLInputElement).checked)} />{' '}
          Auto-refresh (5 s)
        </label>
        {filter.status === 'dead_letter' && (
          <button type="button" onClick={() => setModal('bulk')}>
            Replay all…
          </button>
        )}
      </div>
      <ErrorLine error={load.error} />
      {load.data && (
        <>
          <div class="table-wrap">
            <table data-testid="deliveries">
              <thead>
                <tr>
                  <th scope="col">Delivery</th>
                  <th scope="col">Status</th>
                  <th scope="col">Event type</th>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Created</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">HTTP</th>
                </tr>
              </thead>
              <tbody>
                {load.data.data.map((d) => (
                  <tr data-delivery={d.id}>
                    <td data-label="Delivery">
                      <a href={href('/deliveries/' + d.id)}>{d.id}</a>
                    </td>
                    <td data-label="Status">
                      <StatusBadge status={d.status} />
                    </td>
                    <td data-label="Event type">{d.event_type}</td>
                    <td data-label="Endpoint" class="url">
                      {epUrl.get(d.endpoint_id) ?? d.endpoint_id}
                    </td>
                    <td data-label="Created">{time(d.created_at)}</td>
                    <td data-label="Attempts">{d.attempts}</td>
                    <td data-label="HTTP">{d.http_status_code ?? d.error ?? '—'}</td>
                  </tr>
                ))}
                {load.data.data.length === 0 && (
                  <tr>
                    <td colSpan={7}>No deliveries match.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous
            </button>
            <span data-testid="page-no">page {cursors.length + 1}</span>
            <button
              type="button"
              disabled={!load.data.next_cursor}
              onClick={() => setCursors([...cursors, load.data!.next_cursor!])}
            >
              Next
            </button>
          </nav>
        </>
      )}
      {modal === 'bulk' && (
        <BulkReplay
          filter={filter}
          onClose={() => {
            setModal(null);
            load.reload();
          }}
        />
      )}
      {modal === 'publish' && (
        <Publish
          onClose={() => {
            setModal(null);
            load.reload();
          }}
        />
      )}
    </section>
  );
}
