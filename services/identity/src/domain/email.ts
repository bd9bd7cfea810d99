import { LIMITS, type FieldError } from '@agora/kernel';

/**
 * The one form an e-mail is stored, compared and rate-limited in: `Ann@Example.COM ` and
 * `ann@example.com` are the same account.
 */
export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

// Deliberately loose (one @, a dot in the domain, no spaces): the schema's `format: 'email'`
// guards the HTTP edge; this guards the paths that bypass it (CLI, AGORA_ADMIN_EMAIL).
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function emailProblems(normalised: string, path = 'email'): FieldError[] {
  if (normalised.length === 0) return [{ path, message: 'must not be empty' }];
  if (normalised.length > LIMITS.emailChars) return [{ path, message: `must be at most ${LIMITS.emailChars} characters` }];
  if (!EMAIL_SHAPE.test(normalised)) return [{ path, message: 'must be an e-mail address' }];
  return [];
}
