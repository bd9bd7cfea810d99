import { describe, expect, it } from 'vitest';
import { LIMITS, isAppError } from '@agora/kernel';
import { normaliseEmail, emailProblems } from '../src/domain/email.js';
import { SCRYPT_PARAMS, formatScryptHash, parseScryptHash, passwordProblems } from '../src/domain/password.js';
import { canView, checkNewAccount } from '../src/domain/user.js';
import { LOGIN_THROTTLE, lockoutRemainingMs, retryAfterSeconds } from '../src/domain/login-throttle.js';
import { ScryptPasswordHasher } from '../src/app/password-hasher.js';

describe('identity domain rules', () => {
  it('normalises e-mails by trimming and lower-casing', () => {
    expect(normaliseEmail('  Ann.Lee@Example.COM \n')).toBe('ann.lee@example.com');
    expect(emailProblems('ann@example.com')).toEqual([]);
    expect(emailProblems('not-an-email')[0]?.path).toBe('email');
    expect(emailProblems('a'.repeat(LIMITS.emailChars) + '@x.io')[0]?.message).toMatch(/at most/);
  });

  it('checks password length in code points', () => {
    expect(passwordProblems('short')).toEqual([{ path: 'password', message: `must be at least ${LIMITS.passwordMin} characters` }]);
    expect(passwordProblems('😀'.repeat(LIMITS.passwordMin))).toEqual([]);
    expect(passwordProblems('x'.repeat(LIMITS.passwordMax + 1))[0]?.message).toMatch(/at most/);
  });

  it('rejects a blank name and names every bad field at once', () => {
    try {
      checkNewAccount({ email: 'nope', password: 'short', name: '   ' });
      expect.unreachable();
    } catch (err) {
      expect(isAppError(err) && err.errors?.map((e) => e.path)).toEqual(['email', 'password', 'name']);
    }
    expect(checkNewAccount({ email: ' A@B.co ', password: 'long enough', name: ' Ann ' })).toEqual({ email: 'a@b.co', password: 'long enough', name: 'Ann' });
  });

  it('lets customers view only themselves and admins everyone', () => {
    expect(canView({ userId: 'a', role: 'customer' }, 'a')).toBe(true);
    expect(canView({ userId: 'a', role: 'customer' }, 'b')).toBe(false);
    expect(canView({ userId: 'a', role: 'admin' }, 'b')).toBe(true);
  });

  it('locks out only at the failure limit and only inside the window', () => {
    const start = new Date('2026-01-01T00:00:00Z');
    const at = (ms: number) => new Date(start.getTime() + ms);
    const full = { failures: LOGIN_THROTTLE.maxFailures, windowStartedAt: start };
    expect(lockoutRemainingMs(undefined, start, LOGIN_THROTTLE)).toBe(0);
    expect(lockoutRemainingMs({ ...full, failures: full.failures - 1 }, start, LOGIN_THROTTLE)).toBe(0);
    expect(lockoutRemainingMs(full, at(1000), LOGIN_THROTTLE)).toBe(LOGIN_THROTTLE.windowMs - 1000);
    expect(lockoutRemainingMs(full, at(LOGIN_THROTTLE.windowMs), LOGIN_THROTTLE)).toBe(0);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1500)).toBe(2);
  });

  it('reads back only well-formed, bounded scrypt hashes', () => {
    const good = formatScryptHash({ N: 16384, r: 8, p: 1, salt: 'c2FsdA', hash: 'aGFzaA' });
    expect(parseScryptHash(good)).toEqual({ N: 16384, r: 8, p: 1, salt: 'c2FsdA', hash: 'aGFzaA' });
    for (const bad of ['', 'bcrypt$1$2$3$a$b', 'scrypt$1000$8$1$a$b', `scrypt$${2 ** 24}$8$1$a$b`, 'scrypt$16384$0$1$a$b', 'scrypt$16384$8$1$a', 'scrypt$16384$8$1$a b$c']) {
      expect(parseScryptHash(bad)).toBeUndefined();
    }
  });
});

describe('scrypt password hasher', () => {
  const hasher = new ScryptPasswordHasher();

  it('stores a self-describing salted hash and verifies only the right password', async () => {
    const stored = await hasher.hash('correct horse battery');
    expect(stored).toMatch(new RegExp(`^scrypt\\$${SCRYPT_PARAMS.N}\\$${SCRYPT_PARAMS.r}\\$${SCRYPT_PARAMS.p}\\$[\\w-]{22}\\$[\\w-]{86}$`));
    expect(stored).not.toContain('correct horse');
    expect(await hasher.hash('correct horse battery')).not.toBe(stored);
    expect(await hasher.verify('correct horse battery', stored)).toBe(true);
    expect(await hasher.verify('correct horse batterx', stored)).toBe(false);
    expect(await hasher.verify('correct horse battery', 'garbage')).toBe(false);
    await expect(hasher.burn('anything')).resolves.toBeUndefined();
  });
});
