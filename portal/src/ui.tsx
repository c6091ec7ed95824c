// Small shared pieces: a modal <dialog> (Escape closes it natively), the
// error line, a copy button, and formatting that shows the API's numbers
// unchanged.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export function Dialog(props: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  testid?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    const onCancel = (e: Event) => {
      e.preventDefault();
      props.onClose();
    };
    d.addEventListener('cancel', onCancel);
    return () => d.removeEventListener('cancel', onCancel);
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" data-testid={props.testid}>
      <div class="dialog-head">
        <h2 id="dialog-title">{props.title}</h2>
        <button type="button" class="link" aria-label="Close" onClick={props.onClose}>
          ✕
        </button>
      </div>
      {props.children}
    </dialog>
  );
}

export function ErrorLine(props: { error: unknown }) {
  if (!props.error) return null;
  const e = props.error;
  const text = e instanceof ApiError ? e.describe() : String(e);
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

export function CopyButton(props: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.text);
      setDone(true);
    } catch {
      setDone(false);
    }
  };
  return (
    <button type="button" onClick={copy}>
      {done ? 'Copied' : props.label ?? 'Copy'}
    </button>
  );
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace('Z', ' UTC');
}

export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return '—';
  return (rate * 100).toFixed(1) + '%';
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return (Math.round(v * 10) / 10).toString() + ' ms';
}

export function StatusBadge(props: { status: string }) {
  return <span class={'badge s-' + props.status}>{props.status}</span>;
}

// Loads `fn` when `deps` change; `reload` runs it again.
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

export function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
