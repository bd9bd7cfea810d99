/**
 * The API's field errors come from its JSON-schema validator (`must match format "email"`, `must
 * NOT have fewer than 8 characters`): accurate, but not how a form talks. These are the same rules
 * in the shopper's words; a message not recognised here is shown as the API wrote it, capitalised.
 */
const FORMATS: Record<string, string> = {
  email: 'Enter an e-mail address like name@example.com.',
  uuid: 'This is not a valid id.',
  uri: 'Enter a full web address, starting with https://.',
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function humanFieldMessage(message: string): string {
  const format = /^must match format "([^"]+)"$/.exec(message)?.[1];
  if (format) return FORMATS[format] ?? `Enter a valid ${format}.`;
  const fewer = /^must NOT have fewer than (\d+) (characters|items)$/.exec(message);
  if (fewer) return Number(fewer[1]) === 1 ? (fewer[2] === 'items' ? 'Add at least one.' : 'This cannot be empty.') : `Use at least ${plural(Number(fewer[1]), fewer[2] === 'items' ? 'item' : 'character')}.`;
  const more = /^must NOT have more than (\d+) (characters|items)$/.exec(message);
  if (more) return `Use at most ${plural(Number(more[1]), more[2] === 'items' ? 'item' : 'character')}.`;
  if (/^must match pattern /.test(message)) return 'This is not in the expected form.';
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** A quick check before sending: the API checks the full rule and its answer is shown too. */
export const LOOKS_LIKE_EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
