import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '@agora/kernel';
import { CALLER_ID_HEADER, CALLER_ROLE_HEADER, createHttpApp, createLogger, requireCaller, type HttpApp } from '../src/index.js';

describe('the caller a service is told about', () => {
  let app: HttpApp;
  beforeAll(async () => {
    app = createHttpApp({ name: 'caller-test', logger: createLogger('caller-test', 'silent') });
    app.get('/me', async (request) => requireCaller(request));
    await app.ready();
  });
  afterAll(async () => app.close());

  it('a user id and role pass; none is a 401', async () => {
    const id = newId();
    const ok = await app.inject({ method: 'GET', url: '/me', headers: { [CALLER_ID_HEADER]: id, [CALLER_ROLE_HEADER]: 'admin' } });
    expect(ok.json()).toEqual({ userId: id, role: 'admin' });
    expect((await app.inject({ method: 'GET', url: '/me' })).statusCode).toBe(401);
  });

  it('a caller id that is not a UUID is no user: 401, not a 500 further in', async () => {
    for (const bad of ['not-a-uuid', "1' or '1'='1", 'x'.repeat(300)]) {
      const res = await app.inject({ method: 'GET', url: '/me', headers: { [CALLER_ID_HEADER]: bad } });
      expect(res.statusCode, bad).toBe(401);
      expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    }
  });
});
