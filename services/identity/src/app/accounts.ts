import { AppError, LIMITS, decodeIdCursor, encodeIdCursor, newId, notFound, type Clock } from '@agora/kernel';
import type { Page, identity } from '@agora/contracts';
import { normaliseEmail } from '../domain/email.js';
import { LOGIN_THROTTLE, lockoutRemainingMs, retryAfterSeconds, type ThrottlePolicy } from '../domain/login-throttle.js';
import { canView, checkNewAccount, type NewAccount, type Role, type Viewer } from '../domain/user.js';
import type { LoginOutcome, LoginThrottleStore, PasswordHasher, TokenIssuer, UserRecord, UserRepository } from './ports.js';

type User = identity.User;
type AuthResult = identity.AuthResult;

export function toUser(record: UserRecord): User {
  return { id: record.id, email: record.email, name: record.name, role: record.role };
}

const toListedUser = (record: UserRecord): identity.ListedUser => ({ ...toUser(record), createdAt: record.createdAt.toISOString() });

/** What creating accounts outside the HTTP API (CLI, start-up admin) needs. */
export interface AccountStoreDeps {
  users: UserRepository;
  hasher: PasswordHasher;
  clock: Clock;
}

async function newRecord(deps: AccountStoreDeps, account: NewAccount, role: Role): Promise<UserRecord> {
  const now = deps.clock.now();
  return { id: newId(), email: account.email, name: account.name, role, passwordHash: await deps.hasher.hash(account.password), createdAt: now, updatedAt: now };
}

const emailTaken = (): AppError => new AppError('EMAIL_TAKEN', 'An account with this e-mail already exists');

/** Creates an account with the given role; EMAIL_TAKEN if the e-mail (in any case) is registered. */
export async function createAccount(deps: AccountStoreDeps, input: NewAccount, role: Role): Promise<User> {
  const account = checkNewAccount(input);
  // Cheap early answer; the unique index decides when two registrations race past this.
  if (await deps.users.findByEmail(account.email)) throw emailTaken();
  const record = await newRecord(deps, account, role);
  if ((await deps.users.insert(record)) === 'email-taken') throw emailTaken();
  return toUser(record);
}

export interface EnsureAdminResult {
  user: User;
  /** True when the account was created, false when an existing one was promoted / reset. */
  created: boolean;
}

/**
 * Makes sure `email` is an admin that `password` opens: creates it if missing, otherwise promotes
 * the existing account and resets its password (its id and name stay). Safe to run on every start
 * and from several instances at once.
 */
export async function ensureAdminAccount(deps: AccountStoreDeps, input: NewAccount): Promise<EnsureAdminResult> {
  const account = checkNewAccount(input);
  const result = await deps.users.upsertAdmin(await newRecord(deps, account, 'admin'));
  return { user: toUser(result.user), created: result.created };
}

export interface AccountsDeps extends AccountStoreDeps {
  throttle: LoginThrottleStore;
  tokens: TokenIssuer;
  policy?: ThrottlePolicy;
  onLogin?: (outcome: LoginOutcome) => void;
  onRegister?: () => void;
}

export interface PageRequest {
  limit?: number | undefined;
  cursor?: string | undefined;
  /** Part of the name or e-mail; blank is no filter. */
  q?: string | undefined;
}

/** The use cases behind identity's HTTP routes. */
export class Accounts {
  private readonly policy: ThrottlePolicy;

  constructor(private readonly deps: AccountsDeps) {
    this.policy = deps.policy ?? LOGIN_THROTTLE;
  }

  async register(input: NewAccount): Promise<AuthResult> {
    const user = await createAccount(this.deps, input, 'customer');
    this.deps.onRegister?.();
    return { user, token: await this.issue(user) };
  }

  async login(input: { email: string; password: string }): Promise<AuthResult> {
    const email = normaliseEmail(input.email);
    const now = this.deps.clock.now();
    const remaining = lockoutRemainingMs(await this.deps.throttle.current(email), now, this.policy);
    if (remaining > 0) {
      this.deps.onLogin?.('rate_limited');
      throw new AppError('RATE_LIMITED', 'Too many failed logins for this e-mail; try again later', {
        retryAfterSeconds: retryAfterSeconds(remaining),
      });
    }

    const record = await this.deps.users.findByEmail(email);
    let valid = false;
    if (record) valid = await this.deps.hasher.verify(input.password, record.passwordHash);
    else await this.deps.hasher.burn(input.password);

    if (!record || !valid) {
      await this.deps.throttle.recordFailure(email, now, this.policy);
      this.deps.onLogin?.('invalid_credentials');
      // One answer for an unknown e-mail and a wrong password: the API must not reveal which.
      throw new AppError('INVALID_CREDENTIALS', 'E-mail or password is wrong');
    }
    await this.deps.throttle.clear(email);
    this.deps.onLogin?.('success');
    const user = toUser(record);
    return { user, token: await this.issue(user) };
  }

  /** The user `id` as `viewer` may see it; NOT_FOUND also when it exists but is not theirs. */
  async userFor(viewer: Viewer, id: string): Promise<User> {
    if (!canView(viewer, id)) throw notFound('User');
    const record = await this.deps.users.findById(id);
    if (!record) throw notFound('User');
    return toUser(record);
  }

  /**
   * Users newest first, those whose name or e-mail contains `q` (any case) when it is given; the
   * caller checked the admin role. The cursor is the last id shown: ids are UUIDv7, so id order is
   * creation order and a page boundary never moves when accounts are added.
   */
  async list(page: PageRequest): Promise<Page<identity.ListedUser>> {
    const limit = Math.min(Math.max(page.limit ?? LIMITS.pageSizeDefault, 1), LIMITS.pageSizeMax);
    const beforeId = page.cursor === undefined ? undefined : decodeIdCursor(page.cursor);
    const text = page.q?.trim().toLowerCase();
    const rows = await this.deps.users.search({ text: text || undefined, beforeId, limit: limit + 1 });
    const items = rows.slice(0, limit).map(toListedUser);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeIdCursor(last.id) : null };
  }

  /** Deletes closed failure windows so unknown e-mails do not pile up. */
  pruneLoginFailures(): Promise<number> {
    return this.deps.throttle.prune(this.deps.clock.now(), this.policy);
  }

  private issue(user: User): Promise<string> {
    return this.deps.tokens.sign({ sub: user.id, role: user.role, email: user.email });
  }
}
