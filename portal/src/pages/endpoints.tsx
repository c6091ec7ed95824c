// Endpoints: the list with each one's health, and create / edit / enable /
// disable / rotate secret / send test / delete.
import { useState } from 'preact/hooks';
import { ApiError, call, DeliveryResult, Endpoint, ListPage, qs } from '../api';
import { href } from '../router';
import { CopyButton, Dialog, ErrorLine, percent, StatusBadge, time, useLoad } from '../ui';

interface Health {
  endpoint_id: string;
  success_rate: number | null;
  in_flight: number;
}

async function loadAll(): Promise<{ endpoints: Endpoint[]; health: Map<string, Health> }> {
  const endpoints: Endpoint[] = [];
  let cursor: string | null = null;
  // Cursor pages until the end (the list is small: one row per customer URL).
  for (let i = 0; i < 100; i++) {
    const page: ListPage<Endpoint> = await call(
      'GET',
      'endpoints/' + qs({ page_size: 50, cursor: cursor ?? undefined }),
    );
    endpoints.push(...page.data);
    if (!page.next_cursor || page.data.length === 0) break;
    cursor = page.next_cursor;
  }
  const health = new Map<string, Health>();
  try {
    const to = new Date();
    const from = new Date(to.getTime() - 86400 * 1000);
    const s = await call<{ data: Health[] }>(
      'GET',
      'stats/endpoints/' +
        qs({ from: from.toISOString().slice(0, 19) + 'Z', to: to.toISOString().slice(0, 19) + 'Z', limit: 1000 }),
    );
    for (const h of s.data) health.set(h.endpoint_id, h);
  } catch {
    // Health numbers are extra: the list works without them.
  }
  return { endpoints, health };
}

// "Name: value" lines <-> headers object; "key=value" lines <-> metadata.
function linesToMap(text: string, sep: string, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf(sep);
    if (i <= 0) throw new ApiError(0, 'FORM', `${field}: "${line}" is not name${sep}value`, null);
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}
function mapToLines(m: Record<string, string>, sep: string): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}${sep}${v}`)
    .join('\n');
}

function EndpointForm(props: { endpoint?: Endpoint; onDone: (e: Endpoint) => void; onCancel: () => void }) {
  const ep = props.endpoint;
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.target as HTMLFormElement);
    const str = (k: string) => String(f.get(k) ?? '').trim();
    try {
      const body: Record<string, unknown> = {
        url: str('url'),
        description: str('description'),
        event_types: str('event_types')
          .split(/[\s,]+/)
          .filter(Boolean),
        headers: linesToMap(str('headers'), ':', 'headers'),
        max_in_flight: str('max_in_flight') ? Number(str('max_in_flight')) : undefined,
        fifo: f.get('fifo') === 'on',
        circuit_breaker: {
          enabled: f.get('cb_enabled') === 'on',
          consecutive_failures: Number(str('cb_failures') || '10'),
          open_for: str('cb_open_for') || '30s',
        },
      };
      const rate = str('rate_limit_per_s');
      body.rate_limit_per_s = rate ? Number(rate) : ep ? 0 : undefined;
      const burst = str('rate_limit_burst');
      if (burst) body.rate_limit_burst = Number(burst);
      const meta = linesToMap(str('metadata'), '=', 'metadata');
      if (ep) {
        // A key taken out of the box is removed ("" removes it).
        for (const k of Object.keys(ep.metadata)) if (!(k in meta)) meta[k] = '';
      }
      body.metadata = meta;
      setBusy(true);
      setError(null);
      const saved = ep
        ? await call<Endpoint>('PATCH', `endpoints/${ep.id}/`, body)
        : await call<Endpoint>('POST', 'endpoints/', body);
      props.onDone(saved);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} class="grid-form" data-testid="endpoint-form">
      <label for="ep-url">URL</label>
      <input id="ep-url" name="url" type="url" required defaultValue={ep?.url ?? ''} />
      <label for="ep-description">Description</label>
      <input id="ep-description" name="description" maxLength={255} defaultValue={ep?.description ?? ''} />
      <label for="ep-types">Event types (comma separated; * for all)</label>
      <input id="ep-types" name="event_types" defaultValue={(ep?.event_types ?? ['*']).join(', ')} />
      <label for="ep-headers">Custom headers (one "Name: value" a line)</label>
      <textarea id="ep-headers" name="headers" rows={2} defaultValue={mapToLines(ep?.headers ?? {}, ': ')} />
      <label for="ep-metadata">Metadata (one key=value a line)</label>
      <textarea id="ep-metadata" name="metadata" rows={2} defaultValue={mapToLines(ep?.metadata ?? {}, '=')} />
      <label for="ep-rate">Rate limit (requests/s; empty: none)</label>
      <input id="ep-rate" name="rate_limit_per_s" type="number" min="0" step="any" defaultValue={ep?.rate_limit_per_s ?? ''} />
      <label for="ep-burst">Rate limit burst</label>
      <input id="ep-burst" name="rate_limit_burst" type="number" min="0" defaultValue={ep?.rate_limit_burst ?? ''} />
      <label for="ep-inflight">Max in flight</label>
      <input id="ep-inflight" name="max_in_flight" type="number" min="1" defaultValue={ep?.max_in_flight ?? ''} />
      <label class="check">
        <input name="fifo" type="checkbox" defaultChecked={ep?.fifo ?? false} /> FIFO (one delivery at a time, in order)
      </label>
      <fieldset>
        <legend>Circuit breaker</legend>
        <label class="check">
          <input name="cb_enabled" type="checkbox" defaultChecked={ep?.circuit_breaker.enabled ?? true} /> enabled
        </label>
        <label for="ep-cb-failures">Open after failures in a row</label>
        <input
          id="ep-cb-failures"
          name="cb_failures"
          type="number"
          min="1"
          defaultValue={ep?.circuit_breaker.consecutive_failures ?? 10}
        />
        <label for="ep-cb-open">Open for</label>
        <input id="ep-cb-open" name="cb_open_for" defaultValue={ep?.circuit_breaker.open_for ?? '30s'} />
      </fieldset>
      <ErrorLine error={error} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {ep ? 'Save' : 'Create endpoint'}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

type Modal =
  | { kind: 'create' }
  | { kind: 'edit'; ep: Endpoint }
  | { kind: 'created'; ep: Endpoint }
  | { kind: 'rotate'; ep: Endpoint; secret?: string }
  | { kind: 'test'; ep: Endpoint; result?: DeliveryResult }
  | { kind: 'delete'; ep: Endpoint };

export function Endpoints() {
  const load = useLoad(loadAll, []);
  const [modal, setModal] = useState<Modal | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const close = () => {
    setModal(null);
    setError(null);
  };
  const act = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (ep: Endpoint) =>
    act(async () => {
      await call('PATCH', `endpoints/${ep.id}/`, { is_active: !ep.is_active });
      load.reload();
    });

  return (
    <section aria-labelledby="endpoints-title">
      <div class="page-head">
        <h1 id="endpoints-title">Endpoints</h1>
        <button type="button" onClick={() => setModal({ kind: 'create' })}>
          New endpoint
        </button>
        <button type="button" onClick={load.reload}>
          Refresh
        </button>
      </div>
      <ErrorLine error={load.error} />
      {!modal && <ErrorLine error={error} />}
      {load.data && (
        <div class="table-wrap">
          <table data-testid="endpoints">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">State</th>
                <th scope="col">Circuit</th>
                <th scope="col">Failing since</th>
                <th scope="col">Success rate (24 h)</th>
                <th scope="col">In flight</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {load.data.endpoints.map((ep) => {
                const h = load.data!.health.get(ep.id);
                return (
                  <tr data-endpoint={ep.id}>
                    <td data-label="URL">
                      <span class="url">{ep.url}</span>
                      {ep.description && <span class="muted"> {ep.description}</span>}
                      <span class="muted small"> {ep.event_types.join(', ')}</span>
                    </td>
                    <td data-label="State" data-testid="state">
                      {ep.is_active ? (
                        <StatusBadge status="active" />
                      ) : (
                        <span class="badge s-dead_letter">disabled: {ep.disabled_reason}</span>
                      )}
                    </td>
                    <td data-label="Circuit" data-testid="circuit">
                      {ep.circuit_state}
                      {ep.circuit_open_until && <span class="muted small"> until {time(ep.circuit_open_until)}</span>}
                    </td>
                    <td data-label="Failing since">{time(ep.failing_since)}</td>
                    <td data-label="Success rate">{h ? percent(h.success_rate) : '—'}</td>
                    <td data-label="In flight">{h ? h.in_flight : '—'}</td>
                    <td data-label="Actions" class="row-actions">
                      <button type="button" onClick={() => setModal({ kind: 'edit', ep })}>
                        Edit
                      </button>
                      <button type="button" disabled={busy} onClick={() => toggle(ep)}>
                        {ep.is_active ? 'Disable' : 'Enable'}
                      </button>
                      <button type="button" onClick={() => setModal({ kind: 'test', ep })}>
                        Send test
                      </button>
                      <button type="button" onClick={() => setModal({ kind: 'rotate', ep })}>
                        Rotate secret
                      </button>
                      <a href={href('/deliveries', { endpoint_id: ep.id })}>Deliveries</a>
                      <button type="button" class="danger" onClick={() => setModal({ kind: 'delete', ep })}>
                        Delete
                      </button>
                    </td>
                  </tr>
                );
              })}
              {load.data.endpoints.length === 0 && (
                <tr>
                  <td colSpan={7}>No endpoints yet.</td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}

      {modal?.kind === 'create' && (
        <Dialog title="New endpoint" onClose={close}>
          <EndpointForm
            onCancel={close}
            onDone={(ep) => {
              load.reload();
              setModal({ kind: 'created', ep });
            }}
          />
        </Dialog>
      )}
      {modal?.kind === 'created' && (
        <Dialog title="Endpoint created" onClose={close} testid="secret-dialog">
          <p>
            Signing secret of <span class="url">{modal.ep.url}</span>. It is shown only now:
          </p>
          <p class="secret">
            <code data-testid="secret">{modal.ep.signing_secret}</code> <CopyButton text={modal.ep.signing_secret} />
          </p>
          <div class="actions">
            <button type="button" onClick={close}>
              Done
            </button>
          </div>
        </Dialog>
      )}
      {modal?.kind === 'edit' && (
        <Dialog title="Edit endpoint" onClose={close}>
          <EndpointForm
            endpoint={modal.ep}
            onCancel={close}
            onDone={() => {
              load.reload();
              close();
            }}
          />
        </Dialog>
      )}
      {modal?.kind === 'rotate' && (
        <Dialog title="Rotate signing secret" onClose={close} testid="secret-dialog">
          {modal.secret ? (
            <>
              <p>The new secret, shown only now. The previous one stays valid for 24 hours.</p>
              <p class="secret">
                <code data-testid="secret">{modal.secret}</code> <CopyButton text={modal.secret} />
              </p>
              <div class="actions">
                <button type="button" onClick={close}>
                  Done
                </button>
              </div>
            </>
          ) : (
            <>
              <p>
                Rotate the secret of <span class="url">{modal.ep.url}</span>? Both secrets sign requests for 24
                hours.
              </p>
              <ErrorLine error={error} />
              <div class="actions">
                <button
                  type="button"
                  disabled={busy}
                  onClick={() =>
                    act(async () => {
                      const ep = await call<Endpoint>('POST', `endpoints/${modal.ep.id}/rotate-secret/`);
                      setModal({ ...modal, secret: ep.signing_secret });
                    })
                  }
                >
                  Rotate
                </button>
                <button type="button" onClick={close}>
                  Cancel
                </button>
              </div>
            </>
          )}
        </Dialog>
      )}
      {modal?.kind === 'test' && (
        <Dialog title="Send a test event" onClose={close} testid="test-dialog">
          <p>
            Sends a <code>ping</code> to <span class="url">{modal.ep.url}</span> and waits for the answer.
          </p>
          {modal.result && (
            <dl class="facts" data-testid="test-result">
              <dt>delivery</dt>
              <dd>
                <a href={href('/deliveries/' + modal.result.delivery_id)} onClick={close}>
                  {modal.result.delivery_id}
                </a>
              </dd>
              <dt>status</dt>
              <dd data-testid="test-status">
                <StatusBadge status={modal.result.status} />
              </dd>
              <dt>HTTP status</dt>
              <dd data-testid="test-http">{modal.result.http_status_code ?? '—'}</dd>
              <dt>response body</dt>
              <dd>
                <pre>{modal.result.response_body ?? '—'}</pre>
              </dd>
            </dl>
          )}
          <ErrorLine error={error} />
          <div class="actions">
            <button
              type="button"
              disabled={busy}
              onClick={() =>
                act(async () => {
                  const result = await call<DeliveryResult>('POST', `endpoints/${modal.ep.id}/test/`);
                  setModal({ ...modal, result });
                })
              }
            >
              {busy ? 'Sending…' : 'Send test'}
            </button>
            <button type="button" onClick={close}>
              Close
            </button>
          </div>
        </Dialog>
      )}
      {modal?.kind === 'delete' && (
        <Dialog title="Delete endpoint" onClose={close}>
          <p>
            Delete <span class="url">{modal.ep.url}</span>? Its pending deliveries become dead letters; the history
            stays.
          </p>
          <ErrorLine error={error} />
          <div class="actions">
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={() =>
                act(async () => {
                  await call('DELETE', `endpoints/${modal.ep.id}/`);
                  load.reload();
                  close();
                })
              }
            >
              Delete
            </button>
            <button type="button" onClick={close}>
              Cancel
            </button>
          </div>
        </Dialog>
      )}
    </section>
  );
}
