import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { LIMITS, isAppError, newId } from '@agora/kernel';
import { MIGRATIONS_SCHEMA, type Caller, type Storage } from '@agora/platform';
import { testBackends } from '@agora/platform/testing';
import { createAdmin, createUser, ensureAdmin, hasAdmin, identityModule, migrationsFolder } from '../src/index.js';
import { SqlUserRepository } from '../src/store/users.js';
import { startIdentity, uniqueEmail, type Harness, type ProblemBody } from './helpers.js';

interface UserBody {
  id: string;
  email: string;
  name: string;
  role: string;
}
interface AuthBody {
  user: UserBody;
  token: string;
}
interface PageBody {
  items: UserBody[];
  nextCursor: string | null;
}

const PASSWORD = 'correct horse battery';

for (const backend of testBackends) {
  describe.runIf(await backend.available())(`identity on ${backend.kind}`, () => {
    let storage: Storage;
    let release: () => Promise<void>;
    let harness: Harness;

    const send: Harness['send'] = (options) => harness.send(options);
    const register = (body: unknown) => send({ method: 'POST', url: '/auth/register', payload: body as object });
    const login = (body: unknown) => send({ method: 'POST', url: '/auth/login', payload: body as object });
    const registered = async (tag: string, name = 'Ann Lee'): Promise<AuthBody> => {
      const response = await register({ email: uniqueEmail(tag), password: PASSWORD, name });
      expect(response.statusCode).toBe(201);
      return response.json<AuthBody>();
    };

    beforeAll(async () => {
      const opened = await backend.open();
      storage = opened.storage;
      release = opened.release;
      await storage.migrate('identity', migrationsFolder);
      harness = await startIdentity(storage);
    });

    afterAll(async () => {
      await harness?.service.stop();
      await release?.();
    });

    it('migrates idempotently into the identity schema and reports the database as ready', async () => {
      expect(identityModule.migrationsFolder).toBe(migrationsFolder);
      await storage.migrate('identity', migrationsFolder);
      const tables = await storage.query<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = 'identity' order by table_name`,
      );
      expect(tables.map((t) => t.table_name)).toEqual(['login_failures', 'users']);
      const applied = await storage.query<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(MIGRATIONS_SCHEMA)}.identity`);
      expect(applied[0]?.n).toBe(1);
      expect(harness.service.name).toBe('identity');
      expect(harness.service.readiness.map((c) => c.name)).toEqual(['database']);
      await Promise.all(harness.service.readiness.map((c) => c.check()));
    });

    it('registers a customer, logs in, and answers /me and /users/:id for that user', async () => {
      const email = uniqueEmail('Happy').toUpperCase();
      const created = await register({ email: `${email}`, password: PASSWORD, name: 'Ann Lee' });
      expect(created.statusCode).toBe(201);
      const body = created.json<AuthBody>();
      expect(body.user).toEqual({ id: expect.any(String), email: email.toLowerCase(), name: 'Ann Lee', role: 'customer' });
      expect(Object.keys(body.user).sort()).toEqual(['email', 'id', 'name', 'role']);

      const claims = await harness.tokens.verify(body.token);
      expect(claims).toEqual({ sub: body.user.id, role: 'customer', email: email.toLowerCase() });

      const loggedIn = await login({ email: `  ${email}  `, password: PASSWORD });
      expect(loggedIn.statusCode).toBe(200);
      const session = loggedIn.json<AuthBody>();
      expect(session.user).toEqual(body.user);
      expect((await harness.tokens.verify(session.token)).sub).toBe(body.user.id);

      const caller: Caller = { userId: body.user.id, role: 'customer' };
      const me = await send({ method: 'GET', url: '/me', caller: caller });
      expect(me.statusCode).toBe(200);
      expect(me.json()).toEqual(body.user);
      const byId = await send({ method: 'GET', url: `/users/${body.user.id}`, caller: caller });
      expect(byId.statusCode).toBe(200);
      expect(byId.json()).toEqual(body.user);
    });

    it('stores only a scrypt hash of the password', async () => {
      const { user } = await registered('hash');
      const [row] = await storage.query<{ password_hash: string }>(sql`select password_hash from identity.users where id = ${user.id}`);
      expect(row?.password_hash).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
      expect(row?.password_hash).not.toContain(PASSWORD);
    });

    it('refuses a second account for the same e-mail in any case with 409 EMAIL_TAKEN', async () => {
      const email = uniqueEmail('dup');
      expect((await register({ email, password: PASSWORD, name: 'First' })).statusCode).toBe(201);
      for (const again of [email, email.toUpperCase(), email.replace(/^d/, 'D')]) {
        const response = await register({ email: again, password: 'another password', name: 'Second' });
        expect(response.statusCode).toBe(409);
        expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(response.json<ProblemBody>().code).toBe('EMAIL_TAKEN');
      }
    });

    it('gives exactly one 201 among 20 concurrent registrations of one e-mail, the rest 409', async () => {
      const email = uniqueEmail('race');
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => register({ email: i % 2 === 0 ? email : email.toUpperCase(), password: PASSWORD, name: `Racer ${i}` })),
      );
      const statuses = responses.map((r) => r.statusCode).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(19);
      for (const r of responses.filter((x) => x.statusCode === 409)) expect(r.json<ProblemBody>().code).toBe('EMAIL_TAKEN');
      const [row] = await storage.query<{ n: number }>(sql`select count(*)::int as n from identity.users where email = ${email}`);
      expect(row?.n).toBe(1);
    });

    it('turns the unique index violation itself into email-taken (the path a lost race takes)', async () => {
      const repo = new SqlUserRepository(storage.db);
      const email = uniqueEmail('index');
      const now = harness.clock.now();
      const record = { id: newId(), email, name: 'Index', role: 'customer' as const, passwordHash: 'scrypt$16384$8$1$a$b', createdAt: now, updatedAt: now };
      expect(await repo.insert(record)).toBe('inserted');
      expect(await repo.insert({ ...record, id: newId() })).toBe('email-taken');
      await expect(repo.insert({ ...record, id: newId(), role: 'root' as 'admin' })).rejects.toThrow();
    });

    it('answers a wrong password and an unknown e-mail with the same 401 INVALID_CREDENTIALS', async () => {
      const { user } = await registered('creds');
      const wrong = await login({ email: user.email, password: 'not the password' });
      const unknown = await login({ email: uniqueEmail('nobody'), password: PASSWORD });
      for (const response of [wrong, unknown]) {
        expect(response.statusCode).toBe(401);
        expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      }
      const { code, detail, status } = wrong.json<ProblemBody>();
      expect({ code, status }).toEqual({ code: 'INVALID_CREDENTIALS', status: 401 });
      expect(unknown.json<ProblemBody>()).toMatchObject({ code, detail, status });
    });

    describe('validation names the field and never answers 5xx', () => {
      const cases: { what: string; url: string; body: unknown; path: string }[] = [
        { what: 'missing email', url: '/auth/register', body: { password: PASSWORD, name: 'A' }, path: 'email' },
        { what: 'malformed email', url: '/auth/register', body: { email: 'not-an-email', password: PASSWORD, name: 'A' }, path: 'email' },
        { what: 'short password', url: '/auth/register', body: { email: 'a@example.com', password: 'short', name: 'A' }, path: 'password' },
        { what: 'long password', url: '/auth/register', body: { email: 'a@example.com', password: 'x'.repeat(LIMITS.passwordMax + 1), name: 'A' }, path: 'password' },
        { what: 'numeric email', url: '/auth/register', body: { email: 42, password: PASSWORD, name: 'A' }, path: 'email' },
        { what: 'boolean password', url: '/auth/register', body: { email: 'a@example.com', password: true, name: 'A' }, path: 'password' },
        { what: 'object name', url: '/auth/register', body: { email: 'a@example.com', password: PASSWORD, name: { first: 'A' } }, path: 'name' },
        { what: '10k-char name', url: '/auth/register', body: { email: 'a@example.com', password: PASSWORD, name: 'n'.repeat(10_000) }, path: 'name' },
        { what: 'blank name', url: '/auth/register', body: { email: 'blank@example.com', password: PASSWORD, name: '   ' }, path: 'name' },
        { what: '10k-char email', url: '/auth/register', body: { email: `${'e'.repeat(10_000)}@example.com`, password: PASSWORD, name: 'A' }, path: 'email' },
        { what: 'login without password', url: '/auth/login', body: { email: 'a@example.com' }, path: 'password' },
        { what: 'login with 10k-char email', url: '/auth/login', body: { email: 'e'.repeat(10_000), password: PASSWORD }, path: 'email' },
        { what: 'login with null email', url: '/auth/login', body: { email: null, password: PASSWORD }, path: 'email' },
        { what: 'login with array body', url: '/auth/login', body: [1, 2], path: 'body' },
      ];
      for (const c of cases) {
        it(`${c.what} → 400 naming ${c.path}`, async () => {
          const response = await send({ method: 'POST', url: c.url, payload: JSON.stringify(c.body), headers: { 'content-type': 'application/json' } });
          expect(response.statusCode).toBe(400);
          const problem = response.json<ProblemBody>();
          expect(problem.code).toBe('VALIDATION_FAILED');
          expect(problem.errors?.map((e) => e.path)).toContain(c.path);
        });
      }

      it('bad JSON and an empty body are 400s too', async () => {
        const bad = await send({ method: 'POST', url: '/auth/login', payload: '{"email":', headers: { 'content-type': 'application/json' } });
        expect(bad.statusCode).toBe(400);
        const empty = await send({ method: 'POST', url: '/auth/register' });
        expect(empty.statusCode).toBeGreaterThanOrEqual(400);
        expect(empty.statusCode).toBeLessThan(500);
      });
    });

    it('locks an e-mail out after the failure limit, across instances, even for the right password, until the window passes', async () => {
      const other = await startIdentity(storage, harness.clock);
      try {
        const { user } = await registered('lock');
        const instances = [harness, other];
        const attempt = (i: number, password: string) =>
          instances[i % 2]!.send({ method: 'POST', url: '/auth/login', payload: { email: user.email.toUpperCase(), password } });

        for (let i = 0; i < LIMITS.loginFailuresPerWindow; i++) expect((await attempt(i, `wrong password ${i}`)).statusCode).toBe(401);

        const refused = await attempt(0, PASSWORD);
        expect(refused.statusCode).toBe(429);
        expect(refused.json<ProblemBody>().code).toBe('RATE_LIMITED');
        expect(Number(refused.headers['retry-after'])).toBe(LIMITS.loginFailureWindowMs / 1000);
        expect((await attempt(1, PASSWORD)).statusCode).toBe(429);

        harness.clock.advance(LIMITS.loginFailureWindowMs - 1000);
        const later = await attempt(0, PASSWORD);
        expect(later.statusCode).toBe(429);
        expect(later.headers['retry-after']).toBe('1');

        harness.clock.advance(1000);
        expect((await attempt(1, PASSWORD)).statusCode).toBe(200);

        // A success clears the count: the limit starts over rather than one failure away.
        for (let i = 0; i < LIMITS.loginFailuresPerWindow - 1; i++) expect((await attempt(i, 'wrong again!')).statusCode).toBe(401);
        expect((await attempt(0, PASSWORD)).statusCode).toBe(200);
      } finally {
        await other.service.stop();
      }
    });

    it('locks out unknown e-mails the same way, so a 429 does not reveal an account', async () => {
      const email = uniqueEmail('ghost');
      await Promise.all(Array.from({ length: LIMITS.loginFailuresPerWindow }, () => login({ email, password: PASSWORD })));
      const response = await login({ email, password: PASSWORD });
      expect(response.statusCode).toBe(429);
      harness.clock.advance(LIMITS.loginFailureWindowMs);
      expect((await login({ email, password: PASSWORD })).statusCode).toBe(401);
    });

    it('shows another user as 404 to a customer, 200 to an admin, 401 to nobody', async () => {
      const ann = await registered('ann');
      const bob = await registered('bob', 'Bob');
      const annCaller: Caller = { userId: ann.user.id, role: 'customer' };

      const hidden = await send({ method: 'GET', url: `/users/${bob.user.id}`, caller: annCaller });
      expect(hidden.statusCode).toBe(404);
      expect(hidden.json<ProblemBody>().code).toBe('NOT_FOUND');
      const missing = await send({ method: 'GET', url: '/users/01900000-0000-7000-8000-000000000000', caller: annCaller });
      expect(missing.json()).toEqual(hidden.json());

      const admin: Caller = { userId: ann.user.id, role: 'admin' };
      const seen = await send({ method: 'GET', url: `/users/${bob.user.id}`, caller: admin });
      expect(seen.statusCode).toBe(200);
      expect(seen.json()).toEqual(bob.user);
      expect((await send({ method: 'GET', url: '/users/01900000-0000-7000-8000-000000000000', caller: admin })).statusCode).toBe(404);

      for (const url of [`/users/${bob.user.id}`, '/users/not-a-uuid', '/me', '/users']) {
        const anonymous = await send({ method: 'GET', url });
        expect(anonymous.statusCode, url).toBe(401);
        expect(anonymous.json<ProblemBody>().code).toBe('UNAUTHENTICATED');
      }
      const badId = await send({ method: 'GET', url: '/users/not-a-uuid', caller: annCaller });
      expect(badId.statusCode).toBe(400);
      expect(badId.json<ProblemBody>().errors?.[0]?.path).toBe('id');
    });

    it('lists users for admins only, page by page', async () => {
      const ids = [(await registered('list')).user.id, (await registered('list')).user.id, (await registered('list')).user.id];
      const customer: Caller = { userId: ids[0]!, role: 'customer' };
      expect((await send({ method: 'GET', url: '/users', caller: customer })).statusCode).toBe(403);

      const admin: Caller = { userId: ids[0]!, role: 'admin' };
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${encodeURIComponent(cursor)}`;
        const response = await send({ method: 'GET', url: `/users${query}`, caller: admin });
        expect(response.statusCode).toBe(200);
        const page = response.json<PageBody>();
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((u) => u.id));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 1000);
      expect(new Set(seen).size).toBe(seen.length);
      // Newest first: ids are UUIDv7, so descending id order is descending creation order.
      expect(seen).toEqual([...seen].sort().reverse());
      for (const id of ids) expect(seen).toContain(id);
      expect(seen.slice(0, 3)).toEqual([...ids].reverse());

      const defaults = (await send({ method: 'GET', url: '/users', caller: admin })).json<PageBody>();
      expect(defaults.items.length).toBe(Math.min(seen.length, LIMITS.pageSizeDefault));

      for (const [query, path] of [['?limit=0', 'limit'], ['?limit=101', 'limit'], ['?limit=abc', 'limit'], ['?cursor=garbage', 'cursor']] as const) {
        const response = await send({ method: 'GET', url: `/users${query}`, caller: admin });
        expect(response.statusCode, query).toBe(400);
        expect(response.json<ProblemBody>().errors?.map((e) => e.path)).toContain(path);
      }
    });

    it('searches users by part of the name or e-mail, in any case, literally, newest first', async () => {
      const tag = `zq${Date.now().toString(36)}`;
      const older = await registered(`${tag}-mail`, 'Dana Older');
      const newer = await registered('plain', `Dana ${tag.toUpperCase()} Newer`);
      const percent = await registered('pct', `Per%cent ${tag}`);
      const admin: Caller = { userId: older.user.id, role: 'admin' };
      const ids = async (q: string, extra = ''): Promise<string[]> => {
        const response = await send({ method: 'GET', url: `/users?q=${encodeURIComponent(q)}${extra}`, caller: admin });
        expect(response.statusCode, response.body).toBe(200);
        return response.json<PageBody>().items.map((u) => u.id);
      };
      // The tag is in one e-mail and (in capitals) in two names: all three, newest first.
      expect(await ids(tag.toUpperCase())).toEqual([percent.user.id, newer.user.id, older.user.id]);
      expect(await ids(`  ${tag}-MAIL `)).toEqual([older.user.id]);
      // `%` and `_` are characters, not wildcards.
      expect(await ids(`r%cent ${tag}`)).toEqual([percent.user.id]);
      expect(await ids(`r_cent ${tag}`)).toEqual([]);
      // A search pages like the list, and each item says when the account was made.
      const first = await send({ method: 'GET', url: `/users?q=${tag}&limit=2`, caller: admin });
      const page = first.json<PageBody & { items: { createdAt: string }[] }>();
      expect(page.items.map((u) => u.id)).toEqual([percent.user.id, newer.user.id]);
      expect(Date.parse(page.items[0]!.createdAt)).toBeGreaterThanOrEqual(Date.parse(page.items[1]!.createdAt));
      expect(page.nextCursor).not.toBeNull();
      expect(await ids(tag, `&limit=2&cursor=${encodeURIComponent(page.nextCursor!)}`)).toEqual([older.user.id]);
      const tooLong = await send({ method: 'GET', url: `/users?q=${'x'.repeat(LIMITS.searchQueryChars + 1)}`, caller: admin });
      expect(tooLong.statusCode).toBe(400);
      expect(tooLong.json<ProblemBody>().errors?.map((e) => e.path)).toContain('q');
    });

    it('ensureAdmin creates the admin, then promotes and resets an existing account', async () => {
      const email = uniqueEmail('admin');
      const first = await ensureAdmin(storage, { email: email.toUpperCase(), password: 'admin password 1', name: 'Admin' });
      expect(first.created).toBe(true);
      expect(first.user).toMatchObject({ email, role: 'admin', name: 'Admin' });
      expect(await hasAdmin(storage)).toBe(true);
      const asAdmin = await login({ email, password: 'admin password 1' });
      expect(asAdmin.statusCode).toBe(200);
      expect((await harness.tokens.verify(asAdmin.json<AuthBody>().token)).role).toBe('admin');

      const again = await ensureAdmin(storage, { email, password: 'admin password 2', name: 'Ignored' });
      expect(again).toEqual({ created: false, user: first.user });
      expect((await login({ email, password: 'admin password 1' })).statusCode).toBe(401);
      expect((await login({ email, password: 'admin password 2' })).statusCode).toBe(200);

      const customer = await registered('promote', 'Carol');
      const promoted = await ensureAdmin(storage, { email: customer.user.email, password: 'brand new password', name: 'Admin' });
      expect(promoted).toEqual({ created: false, user: { ...customer.user, role: 'admin' } });
      expect((await login({ email: customer.user.email, password: PASSWORD })).statusCode).toBe(401);
      const session = await login({ email: customer.user.email, password: 'brand new password' });
      expect(session.json<AuthBody>().user.role).toBe('admin');
      const list = await send({ method: 'GET', url: '/users?limit=1', caller: { userId: customer.user.id, role: 'admin' } });
      expect(list.statusCode).toBe(200);
    });

    it('ensureAdmin and createAdmin reject bad input and taken e-mails with typed errors', async () => {
      await expect(ensureAdmin(storage, { email: 'admin@example.com', password: 'short', name: 'A' })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        errors: [{ path: 'password', message: expect.any(String) }],
      });
      await expect(ensureAdmin(storage, { email: 'not an email', password: PASSWORD, name: 'A' })).rejects.toSatisfy(
        (err: unknown) => isAppError(err) && err.errors?.[0]?.path === 'email',
      );

      const email = uniqueEmail('byhand');
      const admin = await createAdmin(storage, { email, password: PASSWORD, name: 'By Hand' });
      expect(admin).toMatchObject({ email, role: 'admin', name: 'By Hand' });
      await expect(createAdmin(storage, { email: email.toUpperCase(), password: PASSWORD, name: 'Again' })).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });

      const seeded = await createUser(storage, { email: uniqueEmail('seed'), password: PASSWORD, name: 'Seed', role: 'customer' });
      expect(seeded.role).toBe('customer');
    });

    it('ensureAdmin from several instances at once leaves one admin row', async () => {
      const email = uniqueEmail('boot');
      const results = await Promise.all(Array.from({ length: 5 }, () => ensureAdmin(storage, { email, password: PASSWORD, name: 'Boot' })));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.user.id)).size).toBe(1);
    });
  });
}
