/**
 * The sandbox provider's test cards a flash-sale order can be paid with, as checkout offers them
 * (pages/Checkout.tsx keeps its own list, with `tok_async` too). `tok_async` is left out: a card
 * that needs asynchronous confirmation is declined for a flash-sale order (docs/api.md, pay).
 */
const PAY_CARDS = [
  { token: 'tok_visa', label: 'Visa ending 4242', note: 'approved' },
  { token: 'tok_declined', label: 'Card ending 0002', note: 'declined' },
  { token: 'tok_insufficient_funds', label: 'Card ending 9995', note: 'declined: insufficient funds' },
  { token: 'tok_error', label: 'Card ending 0119', note: 'provider error, retried, then fails' },
  { token: 'tok_capture_fails', label: 'Card ending 0341', note: 'authorized, then the capture is refused' },
] as const;

/** A choice of one sandbox card, laid out like checkout's. */
export function CardChoice({ name, token, onChange }: { name: string; token: string; onChange: (token: string) => void }) {
  const hint = `${name}-hint`;
  return (
    <fieldset className="cards">
      <legend>Payment (sandbox card)</legend>
      <p className="muted small" id={hint}>
        This shop runs a sandbox payment provider: pick a test card to see each outcome. Nothing is charged.
      </p>
      {PAY_CARDS.map((card) => (
        <label key={card.token} className={`card-option${token === card.token ? ' selected' : ''}`}>
          <input type="radio" name={name} value={card.token} checked={token === card.token} onChange={() => onChange(card.token)} aria-describedby={hint} />
          <span>
            <span className="card-label">{card.label}</span> <span className="muted small">— {card.note}</span> <code className="muted small">{card.token}</code>
          </span>
        </label>
      ))}
    </fieldset>
  );
}
