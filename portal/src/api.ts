// The REST client: every call goes to webhookd's API on the same origin
// (CSP connect-src 'self') with the signed-in credential, and every non-2xx
// answer becomes an ApiError carrying the API's own message.
export const BASE = '/integrations/api/v1/webhooks/';

export type Credential = { kind: 'key'; key: string } | { kind: 'token'; token: string };

const KEY = 'hooklog.api_key';
const TOKEN = 'hooklog.token';

export function loadCredential(): Credential | null {
  const token = sessionStorage.getItem(TOKEN);
  if (token) return { kind: 'token', token };
  const key = sessionStorage.getItem(KEY);
  if (key) return { kind: 'key', key };
  return null;
}

let credential: Credential | null = loadCredential();

// Saving or clearing also sets what call() sends: a portal link's token is
// taken from the address before the first call, after this module loaded.
export function saveCredential(c: Credential): void {
  clearCredential();
  if (c.kind === 'key') sessionStorage.setItem(KEY, c.key);
  else sessionStorage.setItem(TOKEN, c.token);
  credential = c;
}

export function clearCredential(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(TOKEN);
  credential = null;
}

export interface FieldError { field: string; message: string }

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details: FieldError[] | null,
  ) {
    super(message);
  }
  // "message (field: why; ...)" for display.
  describe(): string {
    if (!this.details || this.details.length === 0) return this.message;
    return this.message + ': ' + this.details.map((d) => `${d.field}: ${d.message}`).join('; ');
  }
}

export function setCredential(c: Credential | null): void {
  credential = c;
}

export async function call<T = any>(
  method: string,
  path: string,
  body?: unknown,
  cred: Credential | null = credential,
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (cred?.kind === 'key') headers['X-API-Key'] = cred.key;
  if (cred?.kind === 'token') headers['Authorization'] = 'Bearer ' + cred.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'NETWORK', 'webhookd cannot be reached: ' + String(e), null);
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = json?.error;
    throw new ApiError(
      res.status,
      err?.code ?? 'HTTP_' + res.status,
      err?.message ?? `HTTP ${res.status}`,
      Array.isArray(err?.details) ? err.details : null,
    );
  }
  return json as T;
}

// A query string from the set members of `q` (empty strings left out).
export function qs(q: Record<string, string | number | boolean | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

export interface Session {
  kind: 'operator' | 'tenant';
  metadata: Record<string, string> | null;
  expires_at: string | null;
}

export interface Endpoint {
  id: string;
  url: string;
  signing_secret: string;
  is_active: boolean;
  description: string;
  event_types: string[];
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
  signature_scheme: string;
  headers: Record<string, string>;
  rate_limit_per_s: number | null;
  rate_limit_burst: number | null;
  max_in_flight: number;
  fifo: boolean;
  circuit_breaker: {
    enabled: boolean;
    consecutive_failures: number;
    window_attempts: number;
    failure_rate: number;
    open_for: string;
    max_open_for: string;
  };
  circuit_state: string;
  circuit_open_until: string | null;
  failing_since: string | null;
  auto_disable_after: string;
  disabled_reason: string | null;
}

export interface Delivery {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: string;
  created_at: string;
  http_status_code: number | null;
  response_body: string | null;
  attempts: number;
  last_attempted_at: string | null;
  next_attempt_at: string | null;
  replay_of: string | null;
  error: string | null;
  dead_letter_reason: string | null;
  attempts_log?: Attempt[];
  request?: { method: string; url: string; header_names: string[]; body: string };
}

export interface Attempt {
  at: string;
  http_status_code: number | null;
  error: string | null;
  latency_ms: number;
  response_body: string | null;
}

export interface ListPage<T> {
  data: T[];
  pagination: {
    page: number;
    page_size: number;
    total_count: number | null;
    total_pages: number;
    has_next: boolean;
    has_previous: boolean;
  };
  next_cursor: string | null;
}

export interface DeliveryResult {
  delivery_id: string;
  status: string;
  http_status_code: number | null;
  response_body: string | null;
}

export interface ReplayJob {
  id: string;
  status: 'running' | 'done' | 'failed';
  total: number;
  replayed: number;
  error: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export const STATUSES = ['pending', 'delivered', 'failed', 'rate_limited', 'dead_letter'];
