import { useMemo, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode, type Ref } from 'react';

/**
 * A tiny history router: the gateway answers every client route with index.html, so paths are
 * clean (`/products/42`). One store, read with useSyncExternalStore; `navigate` pushes history.
 */
export interface AppLocation {
  pathname: string;
  search: string;
  /** Changes on every navigation, also to the same URL (pages re-focus their heading on it). */
  key: number;
  /** True when the user moved here in the app (not the first load): focus moves to the page. */
  moved: boolean;
  /** True when Back or Forward led here: a page may show what it showed before (see `scrollY`). */
  pop: boolean;
  /** After Back/Forward: where the page was scrolled when it was left, if known. */
  scrollY: number | undefined;
}

let counter = 0;
let current: AppLocation = readLocation(false);
const listeners = new Set<() => void>();

function readLocation(moved: boolean, pop = false, scrollY: number | undefined = undefined): AppLocation {
  counter += 1;
  return { pathname: window.location.pathname, search: window.location.search, key: counter, moved, pop, scrollY };
}

function savedScroll(state: unknown): number | undefined {
  if (typeof state !== 'object' || state === null || !('scrollY' in state)) return undefined;
  return typeof state.scrollY === 'number' ? state.scrollY : undefined;
}

function emit(): void {
  for (const listener of listeners) listener();
}

window.addEventListener('popstate', (event) => {
  current = readLocation(true, true, savedScroll(event.state));
  emit();
});

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export interface NavigateOptions {
  replace?: boolean;
  /** Keep focus and scroll where they are (e.g. the search box updating its URL as you type). */
  quiet?: boolean;
}

export function navigate(to: string, options: NavigateOptions = {}): void {
  const method = options.replace ? 'replaceState' : 'pushState';
  // The page being left keeps its scroll position in its history entry, for Back to restore.
  if (!options.replace) window.history.replaceState({ scrollY: window.scrollY }, '');
  window.history[method](null, '', to);
  current = readLocation(!options.quiet);
  if (!options.quiet && !options.replace) window.scrollTo(0, 0);
  emit();
}

export function useLocation(): AppLocation {
  return useSyncExternalStore(subscribe, () => current);
}

export function useSearchParams(): URLSearchParams {
  const { search } = useLocation();
  return useMemo(() => new URLSearchParams(search), [search]);
}

/** The current path and query, to come back to after signing in. */
export function currentPath(): string {
  return `${current.pathname}${current.search}`;
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> & { to: string; children: ReactNode; ref?: Ref<HTMLAnchorElement> };

export function Link({ to, onClick, children, ...rest }: LinkProps) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (rest.target && rest.target !== '_self') return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={handle} {...rest}>
      {children}
    </a>
  );
}

/** A nav link that marks itself `aria-current="page"` on its own page (or below it, with `matchPrefix`). */
export function NavLink({ to, matchPrefix, ...rest }: LinkProps & { matchPrefix?: boolean }) {
  const { pathname } = useLocation();
  const active = matchPrefix ? pathname === to || pathname.startsWith(`${to}/`) : pathname === to;
  return <Link to={to} aria-current={active ? 'page' : undefined} {...rest} />;
}
