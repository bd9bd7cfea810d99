import type { Money, OrderStatus } from './types';

const moneyFormats = new Map<string, Intl.NumberFormat>();

export function formatMoney(money: Money): string {
  let format = moneyFormats.get(money.currency);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { style: 'currency', currency: money.currency });
    moneyFormats.set(money.currency, format);
  }
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(money.amount / 10 ** digits);
}

/** "19.99" → 1999 minor units; undefined when it is not a non-negative amount with ≤ 2 decimals. */
export function parseMoneyInput(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d{1,10}(\.\d{1,2})?$/.test(trimmed)) return undefined;
  const [whole = '0', fraction = ''] = trimmed.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

export function moneyInputOf(amount: number): string {
  return (amount / 100).toFixed(2);
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function formatDateTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

export function formatTime(ms: number): string {
  return timeOnly.format(new Date(ms));
}

export function shortId(id: string): string {
  return id.slice(-8).toUpperCase();
}

export const STATUS_LABELS: Record<OrderStatus, string> = {
  PENDING: 'Pending',
  RESERVED: 'Reserved',
  CONFIRMED: 'Confirmed',
  REJECTED: 'Rejected (out of stock)',
  PAYMENT_FAILED: 'Payment failed',
  CANCELLED: 'Cancelled',
  EXPIRED: 'Expired',
};

export function availabilityText(available: number): string {
  if (available <= 0) return 'Out of stock';
  if (available <= 5) return `Only ${available} left`;
  return `In stock (${available} available)`;
}

/** `home-kitchen` → `Home & Kitchen`. */
export function categoryLabel(category: string): string {
  return category
    .split('-')
    .map((word) => (word[0]?.toUpperCase() ?? '') + word.slice(1))
    .join(' & ');
}
