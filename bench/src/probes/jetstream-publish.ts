/**
 * What one NATS server acknowledges: publishes N event-sized messages to a throwaway JetStream
 * stream (file storage, one replica), W in flight, each awaiting its acknowledgement as the outbox
 * relay does, then deletes the stream. A probe of the server, not of Agora (docs/capacity.md).
 *
 *   npx tsx bench/src/probes/jetstream-publish.ts [N=50000] [W=256] [NATS_URL=nats://127.0.0.1:4222]
 */
import { connect } from '@nats-io/transport-node';
import { StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';

const MAX_MESSAGES = 1_000_000;
const messages = Math.min(Number(process.argv[2] ?? 50_000), MAX_MESSAGES);
const inFlight = Number(process.argv[3] ?? 256);
const url = process.argv[4] ?? 'nats://127.0.0.1:4222';

const nc = await connect({ servers: url });
const jsm = await jetstreamManager(nc);
const name = `AGORA_PROBE_${process.pid}`;
const subject = `agora-probe-${process.pid}.event`;
await jsm.streams.add({ name, subjects: [subject], storage: StorageType.File, num_replicas: 1 });
try {
  const js = jetstream(nc);
  const body = new TextEncoder().encode(JSON.stringify({ id: '0'.repeat(36), type: 'order.confirmed', payload: { orderId: '1'.repeat(36), total: { amount: 1234, currency: 'USD' } } }));
  let sent = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (sent < messages) {
      sent += 1;
      await js.publish(subject, body, { msgID: `m${sent}` });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ messages, inFlight, bytes: body.length, seconds: Number(seconds.toFixed(2)), perSec: Math.round(messages / seconds) }));
} finally {
  await jsm.streams.delete(name);
  await nc.close();
}
