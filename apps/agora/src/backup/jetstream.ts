import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';

/**
 * JetStream stream snapshots through the server's own API (`$JS.API.STREAM.SNAPSHOT` and
 * `$JS.API.STREAM.RESTORE`), which the JavaScript client does not wrap: the server streams the
 * stream's store (every message and every durable consumer with its acknowledged position) as
 * chunks to a subject of ours, and takes them back the same way. A snapshot is consistent for its
 * stream: the server takes it at one point of the stream's log.
 */

export const JETSTREAM_BACKUP = {
  /** Bytes per snapshot chunk we ask for and per restore chunk we send. */
  chunkBytes: 128 * 1024,
  /** One API request (info, delete, the snapshot and restore requests). */
  apiTimeoutMs: 10_000,
  /** The longest pause between two snapshot chunks before the snapshot is given up. */
  chunkIdleMs: 30_000,
  /** The server checks and installs the restored stream after the last chunk. */
  restoreFinishTimeoutMs: 120_000,
} as const;

interface ApiError {
  code: number;
  err_code?: number;
  description?: string;
}

interface StreamInfoResponse {
  error?: ApiError;
  config: Record<string, unknown>;
  state: { messages: number; consumer_count: number } & Record<string, unknown>;
}

/** JetStream's "stream not found". */
const STREAM_NOT_FOUND = 10059;

async function api<T extends { error?: ApiError }>(nc: NatsConnection, subject: string, body: unknown, timeoutMs: number = JETSTREAM_BACKUP.apiTimeoutMs): Promise<T> {
  const reply = await nc.request(subject, body === undefined ? undefined : JSON.stringify(body), { timeout: timeoutMs });
  return reply.json<T>();
}

function apiFailure(what: string, error: ApiError): Error {
  return new Error(`${what}: ${error.description ?? 'JetStream error'} (${error.code}/${error.err_code ?? '-'})`);
}

export async function withNats<T>(url: string, work: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: url, name: 'agora-backup', timeout: JETSTREAM_BACKUP.apiTimeoutMs });
  try {
    return await work(nc);
  } finally {
    await nc.close();
  }
}

/** The stream's info, or undefined when the server has no such stream. */
export async function streamInfo(nc: NatsConnection, stream: string): Promise<StreamInfoResponse | undefined> {
  const info = await api<StreamInfoResponse>(nc, `$JS.API.STREAM.INFO.${stream}`, undefined);
  if (info.error?.err_code === STREAM_NOT_FOUND) return undefined;
  if (info.error) throw apiFailure(`stream info of ${stream}`, info.error);
  return info;
}

export async function deleteStream(nc: NatsConnection, stream: string): Promise<void> {
  const answer = await api<{ error?: ApiError; success?: boolean }>(nc, `$JS.API.STREAM.DELETE.${stream}`, undefined);
  if (answer.error && answer.error.err_code !== STREAM_NOT_FOUND) throw apiFailure(`deleting stream ${stream}`, answer.error);
}

export interface StreamSnapshot {
  config: Record<string, unknown>;
  state: Record<string, unknown>;
  messages: number;
  consumers: number;
}

/** Writes the server's snapshot of `stream` (with its consumers) to `file`. */
export async function snapshotStream(nc: NatsConnection, stream: string, file: string): Promise<StreamSnapshot> {
  const deliver = `_agora_backup.${randomBytes(8).toString('hex')}`;
  const out = createWriteStream(file);
  let settle: (err?: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err) => (err ? reject(err) : resolve());
  });
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => settle(new Error(`snapshot of ${stream}: no chunk for ${JETSTREAM_BACKUP.chunkIdleMs} ms`)), JETSTREAM_BACKUP.chunkIdleMs);
  };
  // Chunks arrive in order on one subscription; each carries a reply subject the server counts as
  // our acknowledgement (its flow control). An empty message without one ends the snapshot; one
  // with a status header is the server's error.
  const sub = nc.subscribe(deliver, {
    callback: (err: Error | null, msg: Msg) => {
      if (err) return settle(err);
      armIdle();
      if (msg.headers?.hasError) return settle(new Error(`snapshot of ${stream}: ${msg.headers.code} ${msg.headers.description}`));
      if (msg.data.length === 0 && !msg.reply) return settle();
      if (!out.write(msg.data)) {
        // The file is slower than the server: the server waits for our acknowledgement.
        out.once('drain', () => msg.respond());
      } else msg.respond();
    },
  });
  try {
    await nc.flush();
    const response = await api<StreamInfoResponse>(nc, `$JS.API.STREAM.SNAPSHOT.${stream}`, { deliver_subject: deliver, chunk_size: JETSTREAM_BACKUP.chunkBytes, no_consumers: false, jsck: false });
    if (response.error) throw apiFailure(`snapshot of ${stream}`, response.error);
    armIdle();
    await done;
    out.end();
    await once(out, 'finish');
    return { config: response.config, state: response.state, messages: Number(response.state.messages), consumers: Number(response.state.consumer_count) };
  } finally {
    clearTimeout(idle);
    sub.unsubscribe();
    out.destroy();
  }
}

/** Recreates `stream` from a snapshot file; the server must not have the stream (delete it first to replace it). */
export async function restoreStream(nc: NatsConnection, snapshot: { stream: string; config: Record<string, unknown>; state: Record<string, unknown> }, file: string): Promise<{ messages: number; consumers: number }> {
  const start = await api<{ error?: ApiError; deliver_subject?: string }>(nc, `$JS.API.STREAM.RESTORE.${snapshot.stream}`, { config: snapshot.config, state: snapshot.state });
  if (start.error || !start.deliver_subject) throw apiFailure(`restoring stream ${snapshot.stream}`, start.error ?? { code: 500, description: 'no deliver subject' });
  // Each chunk is a request: the server answers when it has taken it, which paces us.
  for await (const chunk of createReadStream(file, { highWaterMark: JETSTREAM_BACKUP.chunkBytes })) {
    await nc.request(start.deliver_subject, chunk as Buffer, { timeout: JETSTREAM_BACKUP.apiTimeoutMs });
  }
  const finish = await nc.request(start.deliver_subject, undefined, { timeout: JETSTREAM_BACKUP.restoreFinishTimeoutMs });
  const answer = finish.json<StreamInfoResponse>();
  if (answer.error) throw apiFailure(`restoring stream ${snapshot.stream}`, answer.error);
  return { messages: Number(answer.state.messages), consumers: Number(answer.state.consumer_count) };
}
