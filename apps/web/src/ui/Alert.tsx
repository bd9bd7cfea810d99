import type { ReactNode } from 'react';
import { ApiError, messageOf } from '../api';
import { humanFieldMessage } from '../field-messages';

type Kind = 'error' | 'success' | 'info' | 'warning';

/** Errors interrupt (role=alert); the rest are read politely (role=status). */
export function Alert({ kind, title, children }: { kind: Kind; title?: string; children?: ReactNode }) {
  return (
    <div className={`alert alert-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {title ? <p className="alert-title">{title}</p> : null}
      {children ? <div className="alert-body">{children}</div> : null}
    </div>
  );
}

/**
 * A failed request's problem: its `detail`, and the field errors that have no field on the form
 * to sit beside (those that do are shown next to their input).
 */
export function ErrorAlert({ error, title, shownFields = [] }: { error: unknown; title?: string; shownFields?: readonly string[] }) {
  if (!error) return null;
  const others = error instanceof ApiError ? (error.problem.errors ?? []).filter((e) => !shownFields.includes(e.path)) : [];
  const hasShownFieldErrors = error instanceof ApiError && (error.problem.errors ?? []).some((e) => shownFields.includes(e.path));
  return (
    <Alert kind="error" title={title ?? (hasShownFieldErrors ? 'Please correct the highlighted fields.' : undefined)}>
      {hasShownFieldErrors && others.length === 0 ? null : <p>{messageOf(error)}</p>}
      {others.length > 0 ? (
        <ul>
          {others.map((e) => (
            <li key={e.path}>
              <code>{e.path}</code>: {humanFieldMessage(e.message)}
            </li>
          ))}
        </ul>
      ) : null}
    </Alert>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}
