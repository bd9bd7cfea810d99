import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { HttpApp } from '../http/app.js';
import { guardServiceRoutes, type Caller } from '../http/caller.js';
import { CALLER_ASSERTION_HEADER, CallerAssertionSigner, CallerAssertionVerifier } from '../http/caller-assertion.js';
import { AssertingTransport } from '../service-client/asserting.js';
import type { ServiceTransport } from '../service-client/transport.js';

/*
 * Caller assertions for tests that drive a service's app directly: guard the app as the composition
 * roots do, then send each request with a fresh assertion (`injectAs`, or `callerHeaders` for the
 * headers alone): an assertion lives a minute and a suite may run longer.
 */

/** The cluster secret of every test that does not choose its own. */
export const TEST_INTERNAL_SECRET = 'agora-test-internal-secret-0123456789-abcdefgh';

/** Who signs the tests' assertions (the gateway, unless a test says otherwise). */
export const TEST_ISSUER = 'gateway';

const signer = new CallerAssertionSigner(TEST_INTERNAL_SECRET);

/** `app` answers only requests with a valid assertion addressed to `service`, as in `agora start`. */
export function guardForTests(app: HttpApp, service: string): void {
  guardServiceRoutes(app, new CallerAssertionVerifier(TEST_INTERNAL_SECRET, service));
}

/** The headers of a call to `service` made for `caller` (none: a service's own call). */
export async function callerHeaders(service: string, caller?: Caller, issuer: string = TEST_ISSUER): Promise<Record<string, string>> {
  return { [CALLER_ASSERTION_HEADER]: await signer.assertion(issuer, service, caller) };
}

/** `transport` with every call asserted as coming from `issuer`, for services behind guarded apps. */
export function assertingForTests(transport: ServiceTransport, issuer: string): ServiceTransport {
  return new AssertingTransport(transport, signer, issuer);
}

/** A request to a guarded app, and the user it is made for (none: an anonymous or a service's own call). */
export type AssertedInjectOptions = InjectOptions & { caller?: Caller };

/**
 * `app.inject(options)` as the gateway (`issuer`) would send it to `service`: with an assertion for
 * `options.caller`. An assertion already in `options.headers` is sent as it is, so a test can
 * send a forged or malformed one.
 */
export async function injectAs(app: HttpApp, service: string, options: AssertedInjectOptions, issuer: string = TEST_ISSUER): Promise<LightMyRequestResponse> {
  const { caller, headers, ...rest } = options;
  return app.inject({ ...rest, headers: { ...(await callerHeaders(service, caller, issuer)), ...headers } });
}
