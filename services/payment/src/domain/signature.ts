import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, as providers make them (Stripe's scheme): the header is
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The timestamp is inside the signed
 * text, so an attacker cannot refresh an old delivery; a tolerance window refuses replays.
 */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

export function signaturePayload(timestampSeconds: number, rawBody: string): string {
  return `${timestampSeconds}.${rawBody}`;
}

export function computeSignature(secret: string, timestampSeconds: number, rawBody: string): string {
  return createHmac('sha256', secret).update(signaturePayload(timestampSeconds, rawBody), 'utf8').digest('hex');
}

export function signatureHeader(secret: string, timestampSeconds: number, rawBody: string): string {
  return `t=${timestampSeconds},v1=${computeSignature(secret, timestampSeconds, rawBody)}`;
}

export interface ParsedSignature {
  timestamp: number;
  /** Every v1 signature in the header (a provider rotating secrets sends more than one). */
  signatures: string[];
}

/** Undefined when the header is not of the expected shape. */
export function parseSignatureHeader(header: string): ParsedSignature | undefined {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== undefined) return undefined;
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return undefined;
      signatures.push(value.toLowerCase());
    }
  }
  if (timestamp === undefined || signatures.length === 0) return undefined;
  return { timestamp, signatures };
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Verifies a delivery: well-formed header, timestamp within tolerance of `now`, a matching v1. */
export function verifySignature(secret: string, header: string | undefined, rawBody: string, now: Date, toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS): SignatureCheck {
  if (header === undefined || header.length === 0) return { ok: false, reason: 'signature header is missing' };
  const parsed = parseSignatureHeader(header);
  if (!parsed) return { ok: false, reason: 'signature header is malformed' };
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (Math.abs(nowSeconds - parsed.timestamp) > toleranceSeconds) return { ok: false, reason: 'signature timestamp is outside the tolerance window' };
  const expected = Buffer.from(computeSignature(secret, parsed.timestamp, rawBody), 'hex');
  const matches = parsed.signatures.some((candidate) => {
    const given = Buffer.from(candidate, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return matches ? { ok: true } : { ok: false, reason: 'signature does not match' };
}
