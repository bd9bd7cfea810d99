import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceResponse } from '@agora/platform';
import { UPSTREAM_RETRY_AFTER_SECONDS } from '../src/upstream.js';
import { ADMIN_ID, CUSTOMER_ID, bearer, buildGateway, json, problem, type TestGateway } from './fakes.js';

const USER = { id: CUSTOMER_ID, email: 'ann@example.com', name: 'Ann', role: 'customer' };
const REGISTER = { email: 'ann@example.com', password: 'correct horse', name: 'Ann' };

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.app.close();
  gw = undefined;
});

describe('relaying to services', () => {
  it('passes a created answer through with its status and body', async () => {
    gw = await buildGateway();
    gw.transport.on('identity', 'POST', '/auth/register', json(201, { user: USER, token: 'tkn', extra: 'kept' }));
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: REGISTER });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ user: USER, token: 'tkn', extra: 'kept' });
    const [call] = gw.transport.callsTo('identity');
    expect(call).toMatchObject({ method: 'POST', path: '/auth/register', body: REGISTER });
  });

  it('passes a problem through as problem+json with its code', async () => {
    gw = await buildGateway();
    gw.transport.on('identity', 'POST', '/auth/register', problem('EMAIL_TAKEN', 'ann@example.com is registered'));
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: REGISTER });
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 409, code: 'EMAIL_TAKEN', detail: 'ann@example.com is registered' });
  });

  it('passes 401 INVALID_CREDENTIALS and a 429 with its retry-after from login', async () => {
    gw = await buildGateway();
    gw.transport.on('identity', 'POST', '/auth/login', problem('INVALID_CREDENTIALS', 'wrong e-mail or password'));
    const wrong = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'ann@example.com', password: 'nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'INVALID_CREDENTIALS' });

    gw.transport.on('identity', 'POST', '/auth/login', problem('RATE_LIMITED', 'too many failed logins', { 'retry-after': '900' }));
    const limited = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'ann@example.com', password: 'nope' } });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('900');
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('forwards the request id and the idempotency key, and nothing else the client sent', async () => {
    gw = await buildGateway();
    gw.transport.on('identity', 'POST', '/auth/register', json(201, { user: USER, token: 'tkn' }));
    const res = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      headers: { 'x-request-id': 'client-req-42', 'idempotency-key': 'key-1', cookie: 'session=x', 'x-forwarded-for': '10.0.0.1' },
      payload: REGISTER,
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['x-request-id']).toBe('client-req-42');
    const [call] = gw.transport.callsTo('identity');
    expect(call?.headers).toEqual({ 'x-request-id': 'client-req-42', 'idempotency-key': 'key-1' });
  });

  it('refuses an idempotency key longer than 255 characters at the edge', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/register', headers: { 'idempotency-key': 'k'.repeat(256) }, payload: REGISTER });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(gw.transport.calls).toHaveLength(0);
  });

  it('asks identity for the caller named by the token on /me', async () => {
    gw = await buildGateway();
    gw.transport.on('identity', 'GET', `/users/${CUSTOMER_ID}`, json(200, USER));
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(gw.customerToken) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(USER);
    const [call] = gw.transport.callsTo('identity');
    expect(call?.caller).toEqual({ userId: CUSTOMER_ID, role: 'customer' });
  });

  it('passes categories through', async () => {
    gw = await buildGateway();
    const categories = { items: [{ category: 'shoes', productCount: 3 }] };
    gw.transport.on('catalog', 'GET', '/categories', json(200, categories));
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/categories' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(categories);
  });

  it('answers the public availability of a SKU with only sku and available', async () => {
    gw = await buildGateway();
    gw.transport.on('inventory', 'GET', '/inventory/TEE-RED-M', json(200, { sku: 'TEE-RED-M', onHand: 9, reserved: 2, available: 7 }));
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/inventory/TEE-RED-M' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ sku: 'TEE-RED-M', available: 7 });

    const unknown = await gw.app.inject({ method: 'GET', url: '/api/v1/inventory/NOPE' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('sets stock as an admin and answers the stock level', async () => {
    gw = await buildGateway();
    const level = { sku: 'TEE-RED-M', onHand: 10, reserved: 2, available: 8 };
    gw.transport.on('inventory', 'PUT', '/inventory/TEE-RED-M', json(200, level));
    const res = await gw.app.inject({ method: 'PUT', url: '/api/v1/admin/inventory/TEE-RED-M', headers: bearer(gw.adminToken), payload: { onHand: 10 } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(level);
    const [call] = gw.transport.callsTo('inventory');
    expect(call).toMatchObject({ method: 'PUT', body: { onHand: 10 }, caller: { userId: ADMIN_ID, role: 'admin' } });
  });

  it('validates bodies at the edge and names the field', async () => {
    gw = await buildGateway();
    const res = await gw.app.inject({ method: 'PUT', url: '/api/v1/admin/inventory/TEE', headers: bearer(gw.adminToken), payload: { onHand: -1 } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [expect.objectContaining({ path: 'onHand' })] });
    expect(gw.transport.calls).toHaveLength(0);
  });
});

describe('when a service is down', () => {
  it('answers 503 UNAVAILABLE naming the service when the transport throws', async () => {
    gw = await buildGateway();
    gw.transport.down('identity');
    const res = await gw.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'ann@example.com', password: 'x' } });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body).toMatchObject({ code: 'UNAVAILABLE', service: 'identity' });
    expect(body.detail).toContain('identity');
    expect(JSON.stringify(body)).not.toContain('ECONNREFUSED');
    // Transient, not an outcome: the client is told when to send it again.
    expect(res.headers['retry-after']).toBe(String(UPSTREAM_RETRY_AFTER_SECONDS));
  });

  it('answers 503 when a service does not answer within the timeout', async () => {
    gw = await buildGateway({ config: { serviceTimeoutMs: 50 } });
    gw.transport.on('catalog', 'GET', '/categories', () => new Promise<ServiceResponse>(() => undefined));
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/categories' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'UNAVAILABLE', service: 'catalog' });
    expect(res.headers['retry-after']).toBe(String(UPSTREAM_RETRY_AFTER_SECONDS));
  });

  it('a checkout the order service did not answer in time is a 503 with Retry-After, not a failed order', async () => {
    gw = await buildGateway({ config: { serviceTimeoutMs: 50 } });
    gw.transport.on('order', 'POST', '/checkout', () => new Promise<ServiceResponse>(() => undefined));
    const res = await gw.app.inject({
      method: 'POST',
      url: '/api/v1/checkout',
      headers: { ...bearer(gw.customerToken), 'idempotency-key': 'k-1' },
      payload: { payment: { method: 'card', token: 'tok_visa' }, shippingAddress: { name: 'A', line1: '1 Road', city: 'Porto', postalCode: '4000', country: 'PT' } },
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'UNAVAILABLE', service: 'order' });
    expect(res.headers['retry-after']).toBe(String(UPSTREAM_RETRY_AFTER_SECONDS));
  });

  it('turns an error answer that is not a problem document into problem+json', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/categories', { status: 500, headers: { 'content-type': 'text/html' }, body: '<h1>oops</h1>' });
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/categories' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).not.toContain('oops');
  });

  it('passes a service 5xx problem through unchanged', async () => {
    gw = await buildGateway();
    gw.transport.on('catalog', 'GET', '/categories', problem('INTERNAL', 'An unexpected error occurred; it has been logged.'));
    const res = await gw.app.inject({ method: 'GET', url: '/api/v1/categories' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'INTERNAL' });
  });
});
