// The portal's entry point: signs in (API key form, or a #token= portal
// link), asks GET session/ what the credential may see, and renders the page
// the hash names.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  ApiError,
  call,
  clearCredential,
  Credential,
  loadCredential,
  saveCredential,
  Session,
  setCredential,
} from './api';
import { useRoute } from './router';
import { ErrorLine } from './ui';
import { Overview } from './pages/overview';
import { Endpoints } from './pages/endpoints';
import { Deliveries } from './pages/deliveries';
import { DeliveryDetail } from './pages/delivery';
import { PortalLinks } from './pages/links';

// A portal link: "#token=<token>" signs in as a tenant; the token leaves
// the address bar (and the history entry) at once.
function takeTokenFromHash(): void {
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (!m) return;
  saveCredential({ kind: 'token', token: decodeURIComponent(m[1]) });
  history.replaceState(null, '', location.pathname + location.search + '#/overview');
}

// What the credential is: GET session/; 401 means it is wrong or expired.
// A webhookd older than the portal's routes has no session/ ("no such
// route"): the key is then checked on endpoints/ and taken as an operator's.
async function fetchSession(c: Credential): Promise<Session> {
  try {
    return await call<Session>('GET', 'session/', undefined, c);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404 && /no such route/.test(e.message))) throw e;
    await call('GET', 'endpoints/?page_size=1', undefined, c);
    return { kind: c.kind === 'key' ? 'operator' : 'tenant', metadata: null, expires_at: null };
  }
}

function SignIn(props: { onSignedIn: (c: Credential, s: Session) => void; notice?: unknown }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(props.notice ?? null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const c: Credential = { kind: 'key', key: key.trim() };
    try {
      const s = await fetchSession(c);
      props.onSignedIn(c, s);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>hooklog portal</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label for="api_key">API key</label>
        <input
          id="api_key"
          name="api_key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorLine error={error} />
      </form>
      <p class="hint">Customers sign in with the portal link they were given.</p>
    </main>
  );
}

const PAGES = [
  { path: '/overview', label: 'Overview' },
  { path: '/endpoints', label: 'Endpoints' },
  { path: '/deliveries', label: 'Deliveries' },
  { path: '/links', label: 'Portal links', operatorOnly: true },
];

function App() {
  const route = useRoute();
  const [cred, setCred] = useState<Credential | null>(() => loadCredential());
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!cred || session) return;
    fetchSession(cred).then(setSession, (e) => {
      // A credential that no longer works (expired link, removed key):
      // back to the sign-in form, saying why.
      if (e instanceof ApiError && e.status === 401) signOut(e);
      else setError(e);
    });
  }, [cred]);

  const signOut = (why?: unknown) => {
    clearCredential();
    setCredential(null);
    setCred(null);
    setSession(null);
    setError(why ?? null);
  };

  if (!cred) {
    return (
      <SignIn
        notice={error}
        onSignedIn={(c, s) => {
          saveCredential(c);
          setCredential(c);
          setCred(c);
          setSession(s);
          setError(null);
          if (!location.hash.startsWith('#/')) location.hash = '#/overview';
        }}
      />
    );
  }
  if (!session) {
    return (
      <main class="signin">
        {error ? <ErrorLine error={error} /> : <p aria-busy="true">Signing in…</p>}
      </main>
    );
  }
  const operator = session.kind === 'operator';
  const pages = PAGES.filter((p) => operator || !p.operatorOnly);
  const top = '/' + (route.parts[0] ?? 'overview');
  let page;
  if (route.parts[0] === 'deliveries' && route.parts[1]) {
    page = <DeliveryDetail key={route.parts[1]} id={route.parts[1]} />;
  } else if (top === '/endpoints') {
    page = <Endpoints />;
  } else if (top === '/deliveries') {
    page = <Deliveries params={route.params} operator={operator} />;
  } else if (top === '/links' && operator) {
    page = <PortalLinks />;
  } else {
    page = <Overview params={route.params} />;
  }
  return (
    <>
      <header class="top">
        <span class="brand">hooklog</span>
        <nav aria-label="Pages">
          {pages.map((p) => (
            <a href={'#' + p.path} aria-current={top === p.path ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <span class="who" data-testid="who">
          {operator
            ? 'operator'
            : 'tenant ' +
              Object.entries(session.metadata ?? {})
                .map(([k, v]) => `${k}=${v}`)
                .join(', ')}
        </span>
        <button type="button" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main id="main">{page}</main>
    </>
  );
}

takeTokenFromHash();
render(<App />, document.getElementById('app')!);
