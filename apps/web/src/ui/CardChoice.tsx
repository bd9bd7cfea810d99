/** The sandbox provider's test cards (README: Checkout, and what it guarantees). */
const SANDBOX_CARDS = [
  { token: 'tok_visa', label: 'Visa ending 4242', note: 'approved' },
  { token: 'tok_declined', label: 'Card ending 0002', note: 'declined' },
  { token: 'tok_insufficient_funds', label: 'Card ending 9995', note: 'declined: insufficient funds' },
  { token: 'tok_error', label: 'Card ending 0119', note: 'provider error, retried, then fails' },
  { token: 'tok_async', label: 'Card ending 3220', note: 'pending: confirmed a moment later' },
  { token: 'tok_capture_fails', label: 'Card ending 0341', note: 'authorized, then the capture is refused' },
] as const;

/** The card that needs an asynchronous confirmation: checkout waits for it; a flash-sale order is declined with it (docs/api.md, pay). */
const ASYNC_CARD = 'tok_async';

/**
 * A choice of one sandbox card. `withAsync` offers `tok_async` too (checkout); paying a flash-sale
 * order leaves it out. `error` is the field's problem, shown under the cards.
 */
export function CardChoice({ name, token, onChange, withAsync = false, error }: { name: string; token: string; onChange: (token: string) => void; withAsync?: boolean; error?: string | undefined }) {
  const hint = `${name}-hint`;
  const cards = withAsync ? SANDBOX_CARDS : SANDBOX_CARDS.filter((card) => card.token !== ASYNC_CARD);
  return (
    <fieldset className="cards">
      <legend>Payment (sandbox card)</legend>
      <p className="muted small" id={hint}>
        This shop runs a sandbox payment provider: pick a test card to see each outcome. Nothing is charged.
      </p>
      {cards.map((card) => (
        <label key={card.token} className={`card-option${token === card.token ? ' selected' : ''}`}>
          <input type="radio" name={name} value={card.token} checked={token === card.token} onChange={() => onChange(card.token)} aria-describedby={hint} />
          <span>
            <span className="card-label">{card.label}</span> <span className="muted small">— {card.note}</span> <code className="muted small">{card.token}</code>
          </span>
        </label>
      ))}
      {error ? <p className="field-error">{error}</p> : null}
    </fieldset>
  );
}
