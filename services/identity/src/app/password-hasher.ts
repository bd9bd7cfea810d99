import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { SCRYPT_PARAMS, formatScryptHash, parseScryptHash } from '../domain/password.js';
import type { PasswordHasher } from './ports.js';

function derive(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** scrypt's memory need is 128·N·r bytes; leave headroom so Node does not refuse it. */
const maxmemFor = (N: number, r: number): number => 256 * N * r;

/** scrypt from node:crypto (runs on libuv's thread pool, so it does not block the event loop). */
export class ScryptPasswordHasher implements PasswordHasher {
  private dummy: Promise<string> | undefined;

  async hash(password: string): Promise<string> {
    const { N, r, p, keyLength, saltBytes } = SCRYPT_PARAMS;
    const salt = randomBytes(saltBytes);
    const key = await derive(password, salt, keyLength, { N, r, p, maxmem: maxmemFor(N, r) });
    return formatScryptHash({ N, r, p, salt: salt.toString('base64url'), hash: key.toString('base64url') });
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parseScryptHash(stored);
    if (!parsed) return false;
    const expected = Buffer.from(parsed.hash, 'base64url');
    if (expected.length === 0) return false;
    const actual = await derive(password, Buffer.from(parsed.salt, 'base64url'), expected.length, {
      N: parsed.N,
      r: parsed.r,
      p: parsed.p,
      maxmem: maxmemFor(parsed.N, parsed.r),
    });
    return timingSafeEqual(actual, expected);
  }

  async burn(password: string): Promise<void> {
    this.dummy ??= this.hash(randomBytes(18).toString('base64url'));
    await this.verify(password, await this.dummy);
  }
}
