import { LIMITS, type FieldError } from '@agora/kernel';

/** Length in code points, as JSON Schema's `minLength`/`maxLength` count it. */
function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

export function passwordProblems(password: string, path = 'password'): FieldError[] {
  const length = codePoints(password);
  if (length < LIMITS.passwordMin) return [{ path, message: `must be at least ${LIMITS.passwordMin} characters` }];
  if (length > LIMITS.passwordMax) return [{ path, message: `must be at most ${LIMITS.passwordMax} characters` }];
  return [];
}

/** scrypt cost parameters for new hashes; stored hashes carry their own, so these may rise later. */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1, keyLength: 64, saltBytes: 16 } as const;

/** Bounds on parameters read back from the database, so a corrupt row cannot ask for gigabytes. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_KEY_LENGTH = 256;

export interface ScryptHash {
  N: number;
  r: number;
  p: number;
  /** base64url */
  salt: string;
  /** base64url */
  hash: string;
}

const PREFIX = 'scrypt';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** `scrypt$N$r$p$salt$hash`: self-describing, so verification never depends on today's defaults. */
export function formatScryptHash(h: ScryptHash): string {
  return [PREFIX, h.N, h.r, h.p, h.salt, h.hash].join('$');
}

export function parseScryptHash(stored: string): ScryptHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) return undefined;
  const [, nText, rText, pText, salt, hash] = parts as [string, string, string, string, string, string];
  const [N, r, p] = [nText, rText, pText].map((t) => (/^\d{1,8}$/.test(t) ? Number(t) : Number.NaN)) as [number, number, number];
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N) return undefined;
  if (!(r >= 1 && r <= MAX_R && p >= 1 && p <= MAX_P)) return undefined;
  if (!BASE64URL.test(salt) || !BASE64URL.test(hash)) return undefined;
  if (hash.length > Math.ceil((MAX_KEY_LENGTH * 4) / 3)) return undefined;
  return { N, r, p, salt, hash };
}
