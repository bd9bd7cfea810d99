import { useId, useState, type FormEvent } from 'react';
import { ApiError, api } from '../api';
import { announce } from '../announce';
import type { StockLevel } from '../types';

/** Sets one SKU's stock on hand (PUT /admin/inventory/:sku) and shows what the service holds. */
export function StockEditor({ sku, label, available }: { sku: string; label: string; available?: number }) {
  const id = useId();
  const [value, setValue] = useState('');
  const [level, setLevel] = useState<StockLevel | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const onHand = Number(value);
    if (value.trim() === '' || !Number.isInteger(onHand) || onHand < 0) {
      setError('Enter a whole number, 0 or more.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const result = await api.put<StockLevel>(`/api/v1/admin/inventory/${encodeURIComponent(sku)}`, { onHand });
      setLevel(result);
      setValue('');
      announce(`Stock of ${sku} set: ${result.onHand} on hand, ${result.available} available.`);
    } catch (err) {
      setError(err instanceof ApiError ? (err.problem.errors?.[0]?.message ?? err.problem.detail) : String(err));
    } finally {
      setBusy(false);
    }
  };

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
          placeholder={level ? String(level.onHand) : undefined}
          onChange={(e) => setValue(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={`${id}-status`}
        />
        <button type="submit" className="button button-small" disabled={busy}>
          {busy ? 'Saving…' : 'Set stock'}
          <span className="visually-hidden"> for {label}</span>
        </button>
      </div>
      <p id={`${id}-status`} className={`small ${error ? 'field-error' : 'muted'}`} role={error ? 'alert' : undefined}>
        {error ?? (level ? `Saved: ${level.onHand} on hand, ${level.reserved} reserved, ${level.available} available.` : available !== undefined ? `${available} available now.` : '')}
      </p>
    </form>
  );
}
