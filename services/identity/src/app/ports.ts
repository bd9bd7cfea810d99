import type { TokenClaims } from '@agora/contracts';
import type { FailureWindow, ThrottlePolicy } from '../domain/login-throttle.js';
import type { Role } from '../domain/user.js';

export interface UserRecord {
  id: string;
  /** Normalised. */
  email: string;
  name: string;
  role: Role;
  passwordHash: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserSearch {
  /** Case-insensitive substring of the name or the e-mail; matched literally (`%` and `_` are not wildcards). */
  text?: string | undefined;
  beforeId?: string | undefined;
  limit: number;
}

export interface UserRepository {
  /** `email-taken` when the normalised e-mail exists already (also when a concurrent insert won). */
  insert(user: UserRecord): Promise<'inserted' | 'email-taken'>;
  findByEmail(email: string): Promise<UserRecord | undefined>;
  findById(id: string): Promise<UserRecord | undefined>;
  /** Up to `limit` users newest first (by id, a UUIDv7), older than `beforeId`, matching `text` if given. */
  search(query: UserSearch): Promise<UserRecord[]>;
  /**
   * One atomic upsert: inserts `user` as an admin, or makes the existing holder of its e-mail an
   * admin with `user.passwordHash` (keeping its id and name). `created` tells which happened.
   */
  upsertAdmin(user: UserRecord): Promise<{ user: UserRecord; created: boolean }>;
  countAdmins(): Promise<number>;
}

export interface LoginThrottleStore {
  current(email: string): Promise<FailureWindow | undefined>;
  /** Adds one failure, opening a new window if the current one has closed; returns the window after. */
  recordFailure(email: string, now: Date, policy: ThrottlePolicy): Promise<FailureWindow>;
  clear(email: string): Promise<void>;
  /** Deletes windows that have closed; returns how many. */
  prune(now: Date, policy: ThrottlePolicy): Promise<number>;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** False for a wrong password and for a stored hash it cannot read. */
  verify(password: string, stored: string): Promise<boolean>;
  /** Spends the work of one `verify` without a stored hash, so unknown e-mails answer as slowly. */
  burn(password: string): Promise<void>;
}

export interface TokenIssuer {
  sign(claims: TokenClaims): Promise<string>;
}

export type LoginOutcome = 'success' | 'invalid_credentials' | 'rate_limited';
