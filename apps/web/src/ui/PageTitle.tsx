import { useEffect, useRef, type ReactNode } from 'react';
import { useLocation } from '../router';

let focusedFor = 0;

/**
 * The page's h1. After an in-app navigation focus moves to it, so keyboard
 * and screen reader users start at the new page instead of the link they left; it also names the
 * document.
 */
export function PageTitle({ children, title }: { children: ReactNode; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  const { key, moved } = useLocation();
  useEffect(() => {
    document.title = title ? `${title} · Agora` : 'Agora';
  }, [title]);
  useEffect(() => {
    if (!moved) return;
    // Once per navigation; again only if the heading that had focus went away (a page swapping
    // its loading state for its content) and focus fell back to the body, never from a control.
    const active = document.activeElement;
    if (focusedFor === key && active !== null && active !== document.body) return;
    focusedFor = key;
    ref.current?.focus({ preventScroll: true });
  }, [key, moved]);
  return (
    <h1 ref={ref} tabIndex={-1} className="page-title">
      {children}
    </h1>
  );
}
