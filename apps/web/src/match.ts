/**
 * Path patterns for the client-side router: `/products/:id` matches `/products/42` as { id: '42' }.
 * `:id(uuid)` matches only a UUID, the form every id of the API has: any other segment is no page
 * at all (the not-found page, without asking the API, which would answer 400 for its shape).
 */
export type Params = Record<string, string>;

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const KINDS: Record<string, RegExp> = { uuid: UUID };

export function matchPath(pattern: string, pathname: string): Params | null {
  const want = split(pattern);
  const have = split(pathname);
  if (want.length !== have.length) return null;
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] ?? '';
    const h = have[i] ?? '';
    if (w.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(h);
      } catch {
        return null; // a malformed escape matches no route
      }
      const [, name = '', kind] = /^:([^(]+)(?:\((\w+)\))?$/.exec(w) ?? [];
      const shape = kind === undefined ? undefined : KINDS[kind];
      if (kind !== undefined && !shape) throw new Error(`unknown parameter kind in ${pattern}`);
      if (shape && !shape.test(value)) return null;
      params[name] = value;
    } else if (w !== h) {
      return null;
    }
  }
  return params;
}

function split(path: string): string[] {
  return path.split('/').filter((segment) => segment.length > 0);
}

/** A relative in-app path safe to return to after login (never another origin). */
export function safeNext(next: string | null | undefined, fallback = '/'): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  return next;
}
