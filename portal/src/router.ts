// Hash routing: "#/deliveries?status=dead_letter" -> {path: "/deliveries",
// params}. The filters of a page live in the hash so a reload keeps them.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  path: string;
  parts: string[];
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#/, '');
  const q = h.indexOf('?');
  const path = (q >= 0 ? h.slice(0, q) : h) || '/overview';
  const params = new URLSearchParams(q >= 0 ? h.slice(q + 1) : '');
  return { path, parts: path.split('/').filter(Boolean), params };
}

export function href(path: string, params?: Record<string, string | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v) p.set(k, v);
  const s = p.toString();
  return '#' + path + (s ? '?' + s : '');
}

export function navigate(path: string, params?: Record<string, string | undefined | null>): void {
  location.hash = href(path, params);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
