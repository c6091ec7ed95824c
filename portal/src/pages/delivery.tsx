// One delivery: its attempts as a timeline, the request that was sent,
// Replay for a dead letter (showing the new delivery), and the message with
// all of its deliveries (events/{id}/).
import { useState } from 'preact/hooks';
import { ApiError, call, Delivery, DeliveryResult } from '../api';
import { href } from '../router';
import { ErrorLine, ms, pretty, StatusBadge, time, useLoad } from '../ui';

interface EventView {
  id: string;
  type: string;
  created_at: string;
  data: unknown;
  deliveries: Delivery[];
}

export function DeliveryDetail(props: { id: string }) {
  const load = useLoad(() => call<Delivery>('GET', `deliveries/${props.id}/`), [props.id]);
  const event = useLoad(
    async () => (load.data ? call<EventView>('GET', `events/${load.data.event_id}/`) : null),
    [load.data?.event_id],
  );
  const [replay, setReplay] = useState<DeliveryResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const d = load.data;
  const doReplay = async () => {
    setBusy(true);
    setError(null);
    try {
      setReplay(await call<DeliveryResult>('POST', `deliveries/${props.id}/replay/`));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="delivery-title">
      <div class="page-head">
        <h1 id="delivery-title">Delivery {props.id}</h1>
        <a href="#/deliveries">All deliveries</a>
      </div>
      <ErrorLine error={load.error} />
      {d && (
        <>
          <dl class="facts" data-testid="delivery-facts">
            <dt>status</dt>
            <dd data-testid="delivery-status">
              <StatusBadge status={d.status} />
              {d.dead_letter_reason && <span class="muted"> ({d.dead_letter_reason})</span>}
            </dd>
            <dt>event</dt>
            <dd>
              {d.event_type} · <span class="mono">{d.event_id}</span>
            </dd>
            <dt>endpoint</dt>
            <dd>
              <a href={href('/deliveries', { endpoint_id: d.endpoint_id })} class="mono">
                {d.endpoint_id}
              </a>
            </dd>
            <dt>created</dt>
            <dd>{time(d.created_at)}</dd>
            <dt>attempts</dt>
            <dd data-testid="delivery-attempts">{d.attempts}</dd>
            <dt>next attempt</dt>
            <dd>{time(d.next_attempt_at)}</dd>
            {d.replay_of && (
              <>
                <dt>replay of</dt>
                <dd>
                  <a href={href('/deliveries/' + d.replay_of)}>{d.replay_of}</a>
                </dd>
              </>
            )}
          </dl>
          {d.status === 'dead_letter' && (
            <div class="toolbar">
              <button type="button" onClick={doReplay} disabled={busy}>
                {busy ? 'Replaying…' : 'Replay'}
              </button>
              {replay && (
                <p data-testid="replay-result">
                  New delivery{' '}
                  <a href={href('/deliveries/' + replay.delivery_id)} data-testid="replay-link">
                    {replay.delivery_id}
                  </a>
                  : <StatusBadge status={replay.status} /> HTTP {replay.http_status_code ?? '—'}
                </p>
              )}
              <ErrorLine error={error} />
            </div>
          )}
          <h2>Attempts</h2>
          <ol class="timeline" data-testid="attempts">
            {(d.attempts_log ?? []).map((a, i) => (
              <li class={a.http_status_code && a.http_status_code < 300 ? 'ok' : 'bad'}>
                <div class="timeline-head">
                  <strong>#{i + 1}</strong> <span>{time(a.at)}</span>{' '}
                  <span class="badge" data-testid="attempt-outcome">
                    {a.http_status_code !== null ? 'HTTP ' + a.http_status_code : a.error ?? 'no response'}
                  </span>{' '}
                  <span class="muted">{ms(a.latency_ms)}</span>
                </div>
                {a.response_body !== null && <pre class="body">{a.response_body}</pre>}
              </li>
            ))}
            {(d.attempts_log ?? []).length === 0 && <li>Not attempted yet.</li>}
          </ol>
          <h2>Request</h2>
          {d.request ? (
            <div data-testid="request">
              <p class="mono">
                {d.request.method} {d.request.url}
              </p>
              <p>
                Headers: <span class="mono">{d.request.header_names.join(', ')}</span>
              </p>
              <pre class="body" data-testid="request-body">
                {pretty(d.request.body)}
              </pre>
            </div>
          ) : (
            <p class="muted">This webhookd does not report the request.</p>
          )}
          <h2>Message</h2>
          {event.error instanceof ApiError && event.error.status === 404 ? (
            <p class="muted">The message is not available.</p>
          ) : (
            <ErrorLine error={event.error} />
          )}
          {event.data && (
            <div data-testid="event">
              <p>
                <span class="mono">{event.data.id}</span> · {event.data.type} · {time(event.data.created_at)}
              </p>
              <pre class="body" data-testid="event-data">
                {JSON.stringify(event.data.data, null, 2)}
              </pre>
              <div class="table-wrap">
                <table data-testid="event-deliveries">
                  <thead>
                    <tr>
                      <th scope="col">Delivery</th>
                      <th scope="col">Endpoint</th>
                      <th scope="col">Status</th>
                      <th scope="col">Attempts</th>
                    </tr>
                  </thead>
                  <tbody>
                    {event.data.deliveries.map((x) => (
                      <tr>
                        <td data-label="Delivery">
                          <a href={href('/deliveries/' + x.id)}>{x.id}</a>
                          {x.id === d.id && <span class="muted"> (this one)</span>}
                        </td>
                        <td data-label="Endpoint" class="mono">
                          {x.endpoint_id}
                        </td>
                        <td data-label="Status">
                          <StatusBadge status={x.status} />
                        </td>
                        <td data-label="Attempts">{x.attempts}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
          )}
        </>
      )}
    </section>
  );
}
