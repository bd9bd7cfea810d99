import type { Money } from './types';

/** Flash sales as the public API answers them (docs/api.md, "Flash sales"). */
export interface FlashSale {
  id: string;
  sku: string;
  price: Money;
  quantity: number;
  remaining: number;
  startsAt: string;
  endsAt: string;
  perUserLimit: number;
  /** Seconds a buyer has to pay, when the sale has its own window; absent: the shop's default. */
  paymentWindowSeconds?: number;
  status: 'SCHEDULED' | 'ACTIVE' | 'SOLD_OUT' | 'ENDED';
}

export interface FlashSaleStats extends FlashSale {
  accepted: number;
  ordered: number;
  paid: number;
  expired: number;
  drift: number;
}

export interface Ticket {
  ticketId: string;
  status: 'ACCEPTED' | 'ORDERED' | 'EXPIRED';
  orderId?: string;
}

export const SALE_STATUS_LABELS: Record<FlashSale['status'], string> = {
  SCHEDULED: 'Starts soon',
  ACTIVE: 'On now',
  SOLD_OUT: 'Sold out',
  ENDED: 'Ended',
};

/**
 * How often the sale page re-reads the sale. The server answers it from memory (a fraction of a
 * second old), so a crowd watching the count costs no Redis round trip per viewer.
 */
export const SALE_POLL_MS = 1_000;
/** A ticket is followed this often until the database decides it, for at most TICKET_POLL_LIMIT tries. */
export const TICKET_POLL_MS = 300;
export const TICKET_POLL_LIMIT = 100;
/** The order of an ORDERED ticket is opened a moment after it (from the unit-taken fact): read again this often. */
export const ORDER_POLL_MS = 300;
export const ORDER_POLL_LIMIT = 100;

/** A sale's own payment window: the API takes 1 s to a week (FLASH_SALE_LIMITS in @agora/contracts). */
const PAYMENT_WINDOW_SECONDS_MIN = 1;
const PAYMENT_WINDOW_SECONDS_MAX = 7 * 24 * 3_600;

/**
 * The seconds a payment window typed in minutes stands for (blank: undefined, the shop's default),
 * or an error message. Decimals are allowed (0.5 is 30 seconds) as long as they make whole seconds.
 */
export function paymentWindowFromMinutes(text: string): { seconds: number | undefined } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { seconds: undefined };
  const seconds = Number(trimmed) * 60;
  // Floating point: 0.1 minutes is 6.000000000000001 seconds, still whole.
  const whole = Math.round(seconds);
  if (!Number.isFinite(seconds) || Math.abs(seconds - whole) > 1e-6 || whole < PAYMENT_WINDOW_SECONDS_MIN || whole > PAYMENT_WINDOW_SECONDS_MAX) {
    return { error: `Type minutes, at most 7 days (${PAYMENT_WINDOW_SECONDS_MAX / 60}); decimals for seconds (0.5 is 30 s). Blank: the shop's default.` };
  }
  return { seconds: whole };
}

/** A window in words: "15 min", "1 min 30 s", "45 s", "2 h", "7 days". */
export function formatPaymentWindow(seconds: number): string {
  const DAY = 86_400;
  const HOUR = 3_600;
  if (seconds % DAY === 0) return seconds === DAY ? '1 day' : `${seconds / DAY} days`;
  const parts: string[] = [];
  const hours = Math.floor(seconds / HOUR);
  const minutes = Math.floor((seconds % HOUR) / 60);
  const rest = seconds % 60;
  if (hours > 0) parts.push(`${hours} h`);
  if (minutes > 0) parts.push(`${minutes} min`);
  if (rest > 0) parts.push(`${rest} s`);
  return parts.join(' ');
}

/**
 * The buyer's last ticket of a sale, kept in this browser: a buyer who reloads the sale page or comes
 * back to it finds the order still to pay (the API lists no tickets by buyer, and an unpaid
 * flash-sale order can only be paid from its sale page). Per user, so a shared browser does not
 * show one buyer's order to another.
 */
const TICKET_KEY_PREFIX = 'agora.flash-sale-ticket';
const ticketKey = (saleId: string, userId: string): string => `${TICKET_KEY_PREFIX}.${saleId}.${userId}`;

export function rememberedTicket(saleId: string, userId: string): string | undefined {
  try {
    return window.localStorage.getItem(ticketKey(saleId, userId)) ?? undefined;
  } catch {
    return undefined; // storage refused (private mode): the page starts without a ticket
  }
}

export function rememberTicket(saleId: string, userId: string, ticketId: string): void {
  try {
    window.localStorage.setItem(ticketKey(saleId, userId), ticketId);
  } catch {
    // storage refused: the ticket is followed while the page stays open, not after a reload
  }
}
