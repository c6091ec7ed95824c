// Portal links (operators only): a signed link that lets a customer see
// only the endpoints whose metadata match.
import { useState } from 'preact/hooks';
import { call } from '../api';
import { CopyButton, ErrorLine, time } from '../ui';

interface Link {
  url: string;
  token: string;
  metadata: Record<string, string>;
  expires_at: string;
}

export function PortalLinks() {
  const [rows, setRows] = useState<[string, string][]>([['', '']]);
  const [ttl, setTtl] = useState('1h');
  const [link, setLink] = useState<Link | null>(null);
  const [error, setError] = useState<unknown>(null);
  const set = (i: number, j: 0 | 1, v: string) =>
    setRows(rows.map((r, k) => (k === i ? (j === 0 ? [v, r[1]] : [r[0], v]) : r)));
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setLink(null);
    const metadata: Record<string, string> = {};
    for (const [k, v] of rows) if (k.trim()) metadata[k.trim()] = v;
    try {
      setLink(await call<Link>('POST', 'portal-links/', { metadata, ttl: ttl.trim() || undefined }));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section aria-labelledby="links-title">
      <div class="page-head">
        <h1 id="links-title">Portal links</h1>
      </div>
      <p>
        A link signs a customer in to see only the endpoints whose metadata contain every key and value below (and
        their deliveries).
      </p>
      <form class="grid-form" onSubmit={submit} aria-label="New portal link">
        <fieldset>
          <legend>Metadata</legend>
          {rows.map((r, i) => (
            <div class="kv">
              <label for={'mk' + i}>Key</label>
              <input id={'mk' + i} name="meta_key" value={r[0]} onInput={(e) => set(i, 0, (e.target as HTMLInputElement).value)} />
              <label for={'mv' + i}>Value</label>
              <input id={'mv' + i} name="meta_value" value={r[1]} onInput={(e) => set(i, 1, (e.target as HTMLInputElement).value)} />
            </div>
          ))}
          <button type="button" onClick={() => setRows([...rows, ['', '']])}>
            Add key
          </button>
        </fieldset>
        <label for="ttl">Valid for (1m to 30d)</label>
        <input id="ttl" name="ttl" value={ttl} onInput={(e) => setTtl((e.target as HTMLInputElement).value)} />
        <ErrorLine error={error} />
        <div class="actions">
          <button type="submit">Create link</button>
        </div>
      </form>
      {link && (
        <div data-testid="link-result" class="result">
          <label for="link-url">Link (valid until {time(link.expires_at)})</label>
          <div class="copy-row">
            <input id="link-url" readOnly value={link.url} data-testid="link-url" />
            <CopyButton text={link.url} />
          </div>
        </div>
      )}
    </section>
  );
}
