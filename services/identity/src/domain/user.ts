import { LIMITS, validationError, type FieldError } from '@agora/kernel';
import { emailProblems, normaliseEmail } from './email.js';
import { passwordProblems } from './password.js';

export type Role = 'customer' | 'admin';

/** Who is asking, as the gateway established it. */
export interface Viewer {
  userId: string;
  role: Role;
}

/** A customer sees only itself; an admin sees everyone. Anything else is answered as "not found". */
export function canView(viewer: Viewer, userId: string): boolean {
  return viewer.role === 'admin' || viewer.userId === userId;
}

export function normaliseName(raw: string): string {
  return raw.trim();
}

export function nameProblems(normalised: string, path = 'name'): FieldError[] {
  if (normalised.length === 0) return [{ path, message: 'must not be blank' }];
  if (normalised.length > LIMITS.nameChars) return [{ path, message: `must be at most ${LIMITS.nameChars} characters` }];
  return [];
}

export interface NewAccount {
  email: string;
  name: string;
  password: string;
}

/** Normalises and checks a new account's fields; throws VALIDATION_FAILED naming every bad field. */
export function checkNewAccount(input: NewAccount): NewAccount {
  const account = { email: normaliseEmail(input.email), name: normaliseName(input.name), password: input.password };
  const problems = [...emailProblems(account.email), ...passwordProblems(account.password), ...nameProblems(account.name)];
  if (problems.length > 0) throw validationError(problems);
  return account;
}
