/** Small shared pieces: usage bars (a <meter>, no inline styles), sizes, times. */

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function Bar({ label, value, max, text }: { label: string; value: number | null; max: number | null; text: string }) {
  if (value === null) return <span className="muted">{text}</span>;
  const top = max && max > 0 ? max : Math.max(value, 1);
  return (
    <span className="bar">
      <meter min={0} max={top} low={top * 0.7} high={top * 0.9} optimum={0} value={Math.min(value, top)} aria-label={`${label} ${text}`} />
      <span>{text}</span>
    </span>
  );
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function Copyable({ value, label }: { value: string; label: string }) {
  return (
    <span className="copyable">
      <code data-testid="secret">{value}</code>
      <button type="button" className="quiet" onClick={() => void navigator.clipboard?.writeText(value)} aria-label={`Copy ${label}`}>
        Copy
      </button>
    </span>
  );
}
