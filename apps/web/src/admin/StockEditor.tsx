import { useEffect, useId, useState, type FormEvent } from 'react';
import { ApiError, api, isAbort } from '../api';
import { announce } from '../announce';
import type { StockLevel } from '../types';
import { recordStockChange, useSavedLevel } from './stock-changes';

/** What the service holds for the SKU: a level, none yet (404), or not known yet. */
type Held = { kind: 'loading' } | { kind: 'none' } | { kind: 'level'; level: StockLevel; saved: boolean } | { kind: 'unknown' };

function levelText(level: StockLevel): string {
  return `${level.onHand} on hand, ${level.reserved} reserved, ${level.available} available.`;
}

/**
 * Sets one SKU's stock on hand (PUT /admin/inventory/:sku). The field starts from what is on hand
 * now (GET /admin/inventory/:sku); after a save it holds the saved number and `onSaved` tells the
 * page, whose headings and lists show the new level.
 */
export function StockEditor({ sku, label, onSaved }: { sku: string; label: string; onSaved?: (level: StockLevel) => void }) {
  const id = useId();
  const [value, setValue] = useState('');
  const [held, setHeld] = useState<Held>({ kind: 'loading' });
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const saved = useSavedLevel(sku);

  // Saved by this editor or by another one of the same SKU on the page (the lookup and the list).
  useEffect(() => {
    if (!saved) return;
    setHeld({ kind: 'level', level: saved, saved: true });
    setValue(String(saved.onHand));
  }, [saved]);

  useEffect(() => {
    const controller = new AbortController();
    api.get<StockLevel>(`/api/v1/admin/inventory/${encodeURIComponent(sku)}`, { signal: controller.signal }).then(
      (level) => {
        // A save that answered first is newer than this read.
        setHeld((current) => (current.kind === 'level' && current.saved ? current : { kind: 'level', level, saved: false }));
        setValue((typed) => (typed === '' ? String(level.onHand) : typed));
      },
      (err: unknown) => {
        if (controller.signal.aborted || isAbort(err)) return;
        setHeld(err instanceof ApiError && err.status === 404 ? { kind: 'none' } : { kind: 'unknown' });
      },
    );
    return () => controller.abort();
  }, [sku]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy) return;
    const onHand = Number(value);
    if (value.trim() === '' || !Number.isInteger(onHand) || onHand < 0) {
      setError('Enter a whole number, 0 or more.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const result = await api.put<StockLevel>(`/api/v1/admin/inventory/${encodeURIComponent(sku)}`, { onHand });
      recordStockChange(result); // this editor shows it through useSavedLevel, as every other of the SKU
      onSaved?.(result);
      announce(`Stock of ${sku} set: ${result.onHand} on hand, ${result.available} available.`);
    } catch (err) {
      setError(err instanceof ApiError ? (err.problem.errors?.[0]?.message ?? err.problem.detail) : String(err));
    } finally {
      setBusy(false);
    }
  };

  const status =
    held.kind === 'level' ? `${held.saved ? 'Saved: ' : ''}${levelText(held.level)}` : held.kind === 'none' ? 'No stock recorded yet.' : held.kind === 'loading' ? 'Reading the stock…' : '';
  return (
    <form className="stock-editor" onSubmit={(e) => void submit(e)} noValidate>
      <div className={`field inline-field${error ? ' field-invalid' : ''}`}>
        <label htmlFor={id}>
          On hand <span className="visually-hidden">for {label}</span>
        </label>
        <input
          id={id}
          type="number"
          inputMode="numeric"
          min={0}
          step={1}
          value={value}
          placeholder={held.kind === 'none' ? '0' : undefined}
          onChange={(e) => setValue(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={`${id}-status`}
        />
        <button type="submit" className="button button-small" aria-disabled={busy}>
          {busy ? 'Saving…' : 'Set stock'}
          <span className="visually-hidden"> for {label}</span>
        </button>
      </div>
      <p id={`${id}-status`} className={`small ${error ? 'field-error' : 'muted'}`} role={error ? 'alert' : undefined}>
        {error ?? status}
      </p>
    </form>
  );
}
