/**
 * A declined payment in the shopper's words. The API's detail ("Payment declined (card_declined)")
 * and the order's history ("payment declined (insufficient_funds)") end with the provider's code;
 * the page already says "declined" in its title, so the text says why instead.
 */
const REASONS: Record<string, string> = {
  card_declined: 'The bank that issued the card refused the payment.',
  insufficient_funds: 'The card does not have enough funds for this order.',
  invalid_token: 'The payment provider did not recognise the card.',
  capture_declined: 'The card was approved, then the bank refused to complete the payment.',
  provider_error: 'The payment provider could not process the card just now (it was tried again, then given up).',
};

export function declineCode(text: string | undefined): string | undefined {
  return text ? /\(([A-Za-z0-9_]+)\)\s*$/.exec(text)?.[1] : undefined;
}

export function declineExplanation(text: string | undefined): string {
  const code = declineCode(text);
  // No code: a reason of another kind ("payment could not be completed: ...") is shown as it is.
  if (!code) return text && !/^payment declined\.?$/i.test(text.trim()) ? `${text.charAt(0).toUpperCase()}${text.slice(1)}` : 'The payment provider did not say why.';
  return REASONS[code] ?? `The payment provider's reason: ${code.replace(/_/g, ' ')}.`;
}
