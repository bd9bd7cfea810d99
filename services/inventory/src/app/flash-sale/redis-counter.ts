import { createHash } from 'node:crypto';
import { cacheRedisConnection } from '@agora/platform';
import {
  PENDING_TICKETS_MAX,
  type AdjustOutcome,
  type CounterState,
  type PendingTicket,
  type PurchaseOutcome,
  type PurchaseRequest,
  type SaleCounter,
  type SaleSnapshot,
  type SaleTerms,
} from './counter.js';

type RedisClient = ReturnType<typeof cacheRedisConnection>;

/** A purchase answered slower than this fails (the shopper retries with the same key). */
export const REDIS_COUNTER_COMMAND_TIMEOUT_MS = 1_000;
/** Buyers written per HSET when a sale is loaded (bounded arguments per command). */
const LOAD_BUYERS_PER_COMMAND = 1_000;

/*
 * Keys of one sale, all with the hash tag {<sale id>} so they share a slot on Redis Cluster:
 * meta (hash: startsAt, endsAt, perUserLimit, forgetAt), remaining (integer), bought (hash: user →
 * units), keys (hash: `<user>:<Idempotency-Key>` → `<ticket> <quantity>`), pending (hash: ticket →
 * `<user> <quantity>`), back (set: tickets whose units came back), fence (the reconciler's token).
 */
const KEY_NAMES = ['meta', 'remaining', 'bought', 'keys', 'pending', 'back', 'fence'] as const;

/** Every purchase: one script, so no other purchase runs between its checks and its writes. */
const PURCHASE = `
local prior = redis.call('HGET', KEYS[4], ARGV[1] .. ':' .. ARGV[2])
if prior then
  local sep = string.find(prior, ' ', 1, true)
  if string.sub(prior, sep + 1) ~= ARGV[3] then return {'mismatch'} end
  return {'replayed', string.sub(prior, 1, sep - 1)}
end
local meta = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'perUserLimit', 'forgetAt')
if not meta[1] then return {'unknown'} end
local now = tonumber(ARGV[5])
if now < tonumber(meta[1]) or now >= tonumber(meta[2]) then return {'not-active'} end
local q = tonumber(ARGV[3])
local bought = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if bought + q > tonumber(meta[3]) then return {'limit'} end
if tonumber(redis.call('GET', KEYS[2]) or '0') < q then return {'sold-out'} end
redis.call('DECRBY', KEYS[2], q)
redis.call('HINCRBY', KEYS[3], ARGV[1], q)
redis.call('HSET', KEYS[4], ARGV[1] .. ':' .. ARGV[2], ARGV[4] .. ' ' .. ARGV[3])
redis.call('HSET', KEYS[5], ARGV[4], ARGV[1] .. ' ' .. ARGV[3])
redis.call('PEXPIREAT', KEYS[3], meta[4])
redis.call('PEXPIREAT', KEYS[4], meta[4])
redis.call('PEXPIREAT', KEYS[5], meta[4])
return {'accepted', ARGV[4]}
`;

/** Loads a sale only where none is held: a purchase's reload never overwrites live counts. */
const LOAD = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'startsAt', ARGV[1], 'endsAt', ARGV[2], 'perUserLimit', ARGV[3], 'forgetAt', ARGV[4])
redis.call('SET', KEYS[2], ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
return 1
`;

const GIVE_BACK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('SADD', KEYS[6], ARGV[1]) == 0 then return 0 end
redis.call('INCRBY', KEYS[2], ARGV[3])
if tonumber(redis.call('HINCRBY', KEYS[3], ARGV[2], -tonumber(ARGV[3]))) < 0 then redis.call('HSET', KEYS[3], ARGV[2], 0) end
redis.call('PEXPIREAT', KEYS[6], redis.call('HGET', KEYS[1], 'forgetAt'))
return 1
`;

/** A correction applies only with a token no lower than the highest applied (the Redis-side fence). */
const ADJUST = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'absent' end
local highest = redis.call('GET', KEYS[7])
if highest and tonumber(highest) > tonumber(ARGV[2]) then return 'stale' end
redis.call('SET', KEYS[7], ARGV[2], 'PXAT', redis.call('HGET', KEYS[1], 'forgetAt'))
redis.call('INCRBY', KEYS[2], ARGV[1])
return 'applied'
`;

class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

const SCRIPTS = { purchase: new Script(PURCHASE), load: new Script(LOAD), giveBack: new Script(GIVE_BACK), adjust: new Script(ADJUST) };

function words(value: string): [string, string] {
  const sep = value.indexOf(' ');
  return [value.slice(0, sep), value.slice(sep + 1)];
}

/**
 * The counter on Redis (the cluster): each change one Lua script, run by its SHA (EVALSHA, the
 * source sent once per script cache). Keys live under `<prefix>:flash-sale:{<sale>}:*`.
 */
export class RedisSaleCounter implements SaleCounter {
  private readonly redis: RedisClient;

  private constructor(
    url: string,
    private readonly prefix: string,
  ) {
    this.redis = cacheRedisConnection(url, 'agora-flash-sale', REDIS_COUNTER_COMMAND_TIMEOUT_MS);
  }

  /** Connects (a Redis that does not answer fails the start, naming it). */
  static async connect(url: string, prefix: string): Promise<RedisSaleCounter> {
    const counter = new RedisSaleCounter(url, prefix);
    await counter.redis.connect();
    return counter;
  }

  private keys(saleId: string): string[] {
    return KEY_NAMES.map((name) => `${this.prefix}:flash-sale:{${saleId}}:${name}`);
  }

  private async run(script: Script, saleId: string, args: readonly (string | number)[]): Promise<unknown> {
    const keys = this.keys(saleId);
    try {
      return await this.redis.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return this.redis.eval(script.source, keys.length, ...keys, ...args);
    }
  }

  async load(terms: SaleTerms, snapshot: SaleSnapshot): Promise<boolean> {
    const loaded = await this.run(SCRIPTS.load, terms.id, [terms.startsAtMs, terms.endsAtMs, terms.perUserLimit, terms.forgetAtMs, snapshot.remaining]);
    if (loaded !== 1) return false;
    const [, , bought] = this.keys(terms.id);
    const entries = [...snapshot.bought.entries()].filter(([, units]) => units > 0);
    for (let i = 0; i < entries.length; i += LOAD_BUYERS_PER_COMMAND) {
      await this.redis.hset(bought as string, Object.fromEntries(entries.slice(i, i + LOAD_BUYERS_PER_COMMAND)));
    }
    if (entries.length > 0) await this.redis.pexpireat(bought as string, terms.forgetAtMs);
    return true;
  }

  async purchase(saleId: string, request: PurchaseRequest): Promise<PurchaseOutcome> {
    const answer = (await this.run(SCRIPTS.purchase, saleId, [request.userId, request.idempotencyKey, request.quantity, request.ticketId, request.nowMs])) as string[];
    const [kind, ticketId] = answer;
    if ((kind === 'accepted' || kind === 'replayed') && ticketId) return { kind, ticketId };
    if (kind === 'mismatch' || kind === 'sold-out' || kind === 'limit' || kind === 'not-active' || kind === 'unknown') return { kind };
    throw new Error(`flash-sale purchase script answered ${JSON.stringify(answer)}`);
  }

  async remaining(saleId: string): Promise<number | undefined> {
    const [meta, remaining] = this.keys(saleId);
    const [exists, value] = await Promise.all([this.redis.exists(meta as string), this.redis.get(remaining as string)]);
    return exists === 1 && value !== null ? Number(value) : undefined;
  }

  async pendingTicket(saleId: string, ticketId: string): Promise<PendingTicket | undefined> {
    const value = await this.redis.hget(this.keys(saleId)[4] as string, ticketId);
    if (value === null) return undefined;
    const [userId, quantity] = words(value);
    return { ticketId, userId, quantity: Number(quantity) };
  }

  async settle(saleId: string, ticketId: string): Promise<void> {
    await this.redis.hdel(this.keys(saleId)[4] as string, ticketId);
  }

  async giveBack(saleId: string, ticket: PendingTicket): Promise<boolean> {
    return (await this.run(SCRIPTS.giveBack, saleId, [ticket.ticketId, ticket.userId, ticket.quantity])) === 1;
  }

  async state(saleId: string): Promise<CounterState> {
    const [meta, remaining, , , pending] = this.keys(saleId) as [string, string, string, string, string];
    const [exists, value, count] = await Promise.all([this.redis.exists(meta), this.redis.get(remaining), this.redis.hlen(pending)]);
    if (exists !== 1 || value === null) return { loaded: false, remaining: 0, pending: [] };
    const tickets: PendingTicket[] = [];
    if (count > 0) {
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.hscan(pending, cursor, 'COUNT', 500);
        cursor = next;
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const [userId, quantity] = words(flat[i + 1] as string);
          tickets.push({ ticketId: flat[i] as string, userId, quantity: Number(quantity) });
        }
      } while (cursor !== '0' && tickets.length < PENDING_TICKETS_MAX);
    }
    return { loaded: true, remaining: Number(value), pending: tickets.slice(0, PENDING_TICKETS_MAX) };
  }

  async acceptedKeys(saleId: string, max: number): Promise<ReadonlySet<string> | undefined> {
    const [meta, , , keys] = this.keys(saleId) as [string, string, string, string];
    const [exists, count] = await Promise.all([this.redis.exists(meta), this.redis.hlen(keys)]);
    if (exists !== 1 || count > max) return undefined;
    // Keys accepted between the two reads only make the set larger than `max` by a few.
    return new Set(await this.redis.hkeys(keys));
  }

  async adjust(saleId: string, delta: number, token: bigint): Promise<AdjustOutcome> {
    const answer = await this.run(SCRIPTS.adjust, saleId, [delta, token.toString()]);
    if (answer === 'applied' || answer === 'stale' || answer === 'absent') return answer;
    throw new Error(`flash-sale adjust script answered ${JSON.stringify(answer)}`);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
