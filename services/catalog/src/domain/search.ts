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
  /**
   * For the typo-tolerant match (pg_trgm): the lowercased words that each must be close to a word
   * of the product. Stop words are left out (they are in nearly every description, and full-text
   * search ignores them too); none when the text uses search operators, which ask for precision.
   */
  fuzzyWords: string[];
}

const MAX_PREFIX_WORDS = 16;
const CONTROL = /\p{Cc}/gu;
const WORD = /[\p{L}\p{N}]+/gu;
/** Quotes, `-word` and `or` ask for web-search semantics; a prefix query would loosen them. */
const OPERATORS = /"|(?:^|\s)-[\p{L}\p{N}]|(?:^|\s)or(?:\s|$)/iu;
/**
 * English stop words (PostgreSQL's english.stop): a typo-tolerant match on one of them would find
 * almost every product, where full-text search finds none.
 */
const STOP_WORDS = new Set(
  (
    'i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers herself it its itself ' +
    'they them their theirs themselves what which who whom this that these those am is are was were be been being have has had ' +
    'having do does did doing a an the and but if or because as until while of at by for with about against between into through ' +
    'during before after above below to from up down in out on off over under again further then once here there when where why ' +
    'how all any both each few more most other some such no nor not only own same so than too very s t can will just don should now'
  ).split(' '),
);

export function searchTermsOf(q: string | undefined): SearchTerms | undefined {
  if (q === undefined) return undefined;
  // NUL cannot travel in a PostgreSQL text parameter; control characters mean nothing here.
  const text = q.replace(CONTROL, ' ').trim();
  if (text.length === 0) return undefined;
  const words = (text.toLowerCase().match(WORD) ?? []).slice(0, MAX_PREFIX_WORDS);
  const fuzzyWords = [...new Set(words.filter((w) => !STOP_WORDS.has(w)))];
  const last = words.pop();
  if (last === undefined || OPERATORS.test(text)) return { text, prefixHead: '', prefixLast: undefined, fuzzyWords: [] };
  return { text, prefixHead: words.join(' & '), prefixLast: `${last}:*`, fuzzyWords };
}
