import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from '@agora/kernel';
import type { identity } from '@agora/contracts';
import { createHttpApp, type RunningService, type ServiceDeps, type ServiceModule, type Storage } from '@agora/platform';
import { Accounts, createAccount, ensureAdminAccount, type EnsureAdminResult } from './app/accounts.js';
import { ScryptPasswordHasher } from './app/password-hasher.js';
import type { LoginOutcome } from './app/ports.js';
import type { NewAccount } from './domain/user.js';
import { LOGIN_THROTTLE } from './domain/login-throttle.js';
import { registerIdentityRoutes } from './http/routes.js';
import { SqlLoginThrottleStore } from './store/login-failures.js';
import { SqlUserRepository } from './store/users.js';

export type { EnsureAdminResult } from './app/accounts.js';
export type { NewAccount } from './domain/user.js';

export const IDENTITY_SERVICE = 'identity';
export const migrationsFolder = fileURLToPath(new URL('./store/migrations', import.meta.url));

const storeDeps = (storage: Storage, clock: Clock) => ({
  users: new SqlUserRepository(storage.db),
  hasher: new ScryptPasswordHasher(),
  clock,
});

/**
 * Makes `email` an admin that `password` opens (for AGORA_ADMIN_EMAIL / AGORA_ADMIN_PASSWORD on
 * every start): creates it if missing, otherwise promotes it and resets its password. Needs the
 * identity migrations applied. Throws VALIDATION_FAILED naming a bad field.
 */
export function ensureAdmin(storage: Storage, input: NewAccount, clock: Clock = systemClock): Promise<EnsureAdminResult> {
  return ensureAdminAccount(storeDeps(storage, clock), input);
}

/** `agora admin create`: a new admin; EMAIL_TAKEN if the e-mail is registered (use ensureAdmin to promote). */
export function createAdmin(storage: Storage, input: NewAccount, clock: Clock = systemClock): Promise<identity.User> {
  return createAccount(storeDeps(storage, clock), input, 'admin');
}

/** Creates an account with any role (seeding, tests); EMAIL_TAKEN if the e-mail is registered. */
export function createUser(storage: Storage, input: NewAccount & { role: identity.Role }, clock: Clock = systemClock): Promise<identity.User> {
  const { role, ...account } = input;
  return createAccount(storeDeps(storage, clock), account, role);
}

/** Whether any admin exists (the first start creates a demo admin when none does). */
export function hasAdmin(storage: Storage): Promise<boolean> {
  return new SqlUserRepository(storage.db).countAdmins().then((n) => n > 0);
}

export const identityModule: ServiceModule = {
  name: IDENTITY_SERVICE,
  migrationsFolder,
  async create(deps: ServiceDeps): Promise<RunningService> {
    const logins = deps.metrics.counter('agora_identity_logins_total', 'Login attempts by outcome', ['outcome']);
    const registrations = deps.metrics.counter('agora_identity_registrations_total', 'Accounts registered', []);
    const accounts = new Accounts({
      ...storeDeps(deps.storage, deps.clock),
      throttle: new SqlLoginThrottleStore(deps.storage.db),
      tokens: deps.tokens,
      onLogin: (outcome: LoginOutcome) => {
        logins.inc({ outcome });
        if (outcome === 'rate_limited') deps.logger.warn({ outcome }, 'login refused: too many failures for one e-mail');
      },
      onRegister: () => registrations.inc(),
    });

    const app = createHttpApp({ name: IDENTITY_SERVICE, logger: deps.logger, metrics: deps.metrics });
    registerIdentityRoutes(app, accounts);

    let pruneTimer: NodeJS.Timeout | undefined;
    const prune = (): void => {
      accounts.pruneLoginFailures().then(
        (n) => deps.logger.debug({ pruned: n }, 'closed login failure windows deleted'),
        (err: unknown) => deps.logger.warn({ err }, 'pruning login failure windows failed; retrying next round'),
      );
    };

    return {
      name: IDENTITY_SERVICE,
      app,
      readiness: [{ name: 'database', check: () => deps.storage.ping() }],
      async start() {
        // Any instance may prune: the delete is idempotent, so no leader is needed.
        pruneTimer ??= setInterval(prune, LOGIN_THROTTLE.windowMs);
        pruneTimer.unref();
      },
      async stop() {
        if (pruneTimer) clearInterval(pruneTimer);
        pruneTimer = undefined;
        await app.close();
      },
    };
  },
};
