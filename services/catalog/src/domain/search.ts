/**
 * What a search box string becomes. The text itself always goes to PostgreSQL as a parameter of
 * `websearch_to_tsquery`, which accepts any input. For search-as-you-type we add a prefix query
 * for `to_tsquery`, whose syntax is strict, so it is built only from letters and digits.
 */
export interface SearchTerms {
  /** The cleaned text for `websearch_to_tsquery('english', ...)`. */
  text: string;
  /** For `to_tsquery`: every word but the last, joined with `&` (may be empty). */
  prefixHead: string;
  /** For `to_tsquery`: the last word with `:*`; absent when the text uses search operators. */
  prefixLast: string | undefined;
}

const MAX_PREFIX_WORDS = 16;
const CONTROL = /\p{Cc}/gu;
const WORD = /[\p{L}\p{N}]+/gu;
/** Quotes, `-word` and `or` ask for web-search semantics; a prefix query would loosen them. */
const OPERATORS = /"|(?:^|\s)-[\p{L}\p{N}]|(?:^|\s)or(?:\s|$)/iu;

export function searchTermsOf(q: string | undefined): SearchTerms | undefined {
  if (q === undefined) return undefined;
  // NUL cannot travel in a PostgreSQL text parameter; control characters mean nothing here.
  const text = q.replace(CONTROL, ' ').trim();
  if (text.length === 0) return undefined;
  const words = (text.toLowerCase().match(WORD) ?? []).slice(0, MAX_PREFIX_WORDS);
  const last = words.pop();
  if (last === undefined || OPERATORS.test(text)) return { text, prefixHead: '', prefixLast: undefined };
  return { text, prefixHead: words.join(' & '), prefixLast: `${last}:*` };
}
