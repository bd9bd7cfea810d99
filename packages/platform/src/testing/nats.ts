import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { servicesRequired } from './backends.js';

/**
 * NATS for tests, mirroring the PostgreSQL backend: suites run against the real server when it
 * answers, and with AGORA_REQUIRE_SERVICES=1 (CI) a server that does not answer fails the run.
 */
export const TEST_NATS_URL = process.env.AGORA_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

let natsReachable: Promise<boolean> | undefined;

/** Whether a NATS server with JetStream answers at {@link TEST_NATS_URL}. */
export function isNatsReachable(): Promise<boolean> {
  natsReachable ??= (async () => {
    let nc: Awaited<ReturnType<typeof connect>> | undefined;
    try {
      nc = await connect({ servers: TEST_NATS_URL, timeout: 2_000, reconnect: false });
      const jsm = await jetstreamManager(nc, { timeout: 2_000 });
      await jsm.getAccountInfo();
      return true;
    } catch {
      return false;
    } finally {
      await nc?.close();
    }
  })();
  return natsReachable;
}

/** True when NATS tests can run; throws when they must run (AGORA_REQUIRE_SERVICES=1) and cannot. */
export async function natsAvailable(): Promise<boolean> {
  const reachable = await isNatsReachable();
  if (!reachable && servicesRequired()) {
    throw new Error(`AGORA_REQUIRE_SERVICES=1 but NATS JetStream at ${TEST_NATS_URL} does not answer`);
  }
  return reachable;
}

/** A stream name and subject prefix no other test file uses, so suites can run in parallel. */
export function uniqueNatsNames(prefix = 'agora_test'): { stream: string; subjectPrefix: string } {
  const suffix = randomBytes(6).toString('hex');
  return { stream: `${prefix.toUpperCase()}_${suffix}`, subjectPrefix: `${prefix}.${suffix}.events` };
}

/** Deletes a test stream (and with it its consumers); a stream already gone is fine. */
export async function deleteNatsStream(stream: string, url: string = TEST_NATS_URL): Promise<void> {
  const nc = await connect({ servers: url, timeout: 2_000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch((err: unknown) => {
      if (err instanceof Error && /stream not found/i.test(err.message)) return false;
      throw err;
    });
  } finally {
    await nc.close();
  }
}
