import type { FieldError } from '@agora/kernel';

/** A UTF-16 surrogate without its pair: with the `u` flag a well-formed pair is one code point, so only a lone half matches. */
const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATE_ALL = /\p{Cs}/gu;
const LONE_SURROGATE_MESSAGE = 'must be well-formed Unicode (no lone surrogate such as \\ud83d)';

/**
 * Input no route may take as it is, whatever its schema says: a string or key holding U+0000
 * (PostgreSQL cannot store it in text, so it would fail deep inside a store as a 500), a string
 * or key holding a lone surrogate such as the JSON escape `\ud83d` (not Unicode: PostgreSQL's
 * jsonb refuses it, a 500 again, and text would store U+FFFD instead of what was sent) and JSON
 * nested deeper than `maxDepth` (the next recursive walker — the validator, a serializer, a
 * transport — would exhaust its stack). Walks the parsed body without recursion, so the check
 * itself cannot overflow; returns the first offence, naming the field as validation errors do.
 */
export function unacceptableInput(body: unknown, maxDepth: number): FieldError | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: body, path: '', depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, path, depth } = next;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return { path: path || 'body', message: 'must not contain the NUL character (U+0000)' };
      if (LONE_SURROGATE.test(value)) return { path: path || 'body', message: LONE_SURROGATE_MESSAGE };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= maxDepth) return { path: path || 'body', message: `is nested deeper than ${maxDepth} levels` };
    if (Array.isArray(value)) {
      value.forEach((item: unknown, i) => stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      const field = path ? `${path}.${key}` : key;
      if (key.includes('\u0000')) return { path: field.replaceAll('\u0000', '\\u0000'), message: 'a property name must not contain the NUL character (U+0000)' };
      if (LONE_SURROGATE.test(key)) return { path: field.replace(LONE_SURROGATE_ALL, '\uFFFD'), message: `a property name ${LONE_SURROGATE_MESSAGE}` };
      stack.push({ value: item, path: field, depth: depth + 1 });
    }
  }
  return undefined;
}
