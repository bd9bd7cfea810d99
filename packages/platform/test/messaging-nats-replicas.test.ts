import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { connectNatsEventBus, createLogger } from '../src/index.js';
import { TEST_NATS_URL, natsAvailable } from '../src/testing/index.js';

const logger = createLogger('nats-replicas-test', 'silent');
const hasNats = await natsAvailable();

describe.runIf(hasNats)('the event stream\'s replicas (AGORA_NATS_STREAM_REPLICAS)', () => {
  it('creates the stream with the copies asked for', async () => {
    const stream = `AGORA_REPLICAS_${randomBytes(4).toString('hex')}`;
    const bus = await connectNatsEventBus({ url: TEST_NATS_URL, logger, stream, subjectPrefix: stream.toLowerCase(), replicas: 1 });
    const nc = await connect({ servers: TEST_NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info(stream)).config.num_replicas).toBe(1);
      await jsm.streams.delete(stream);
    } finally {
      await bus.close();
      await nc.close();
    }
  });

  it('asks the server for three copies, which a single server refuses rather than silently keeping one', async () => {
    const stream = `AGORA_REPLICAS_${randomBytes(4).toString('hex')}`;
    await expect(connectNatsEventBus({ url: TEST_NATS_URL, logger, stream, subjectPrefix: stream.toLowerCase(), replicas: 3 })).rejects.toThrow(/replica|resources|peers/i);
  });

  it('refuses a count JetStream does not accept before connecting', async () => {
    await expect(connectNatsEventBus({ url: TEST_NATS_URL, logger, stream: 'AGORA_REPLICAS_BAD', replicas: 6 })).rejects.toThrow(RangeError);
  });
});
