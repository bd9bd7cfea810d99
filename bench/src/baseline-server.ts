/**
 * The same-run baseline (docs/benchmarks.md): a bare Fastify app with one JSON route, in its own
 * process, no plugins, no logging. Started by the bench; prints its port once it listens.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/ping', async () => ({ ok: true }));

const stop = () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`baseline listening on port ${typeof address === 'object' && address ? address.port : 0}\n`);
