/** Money is an integer count of minor units plus an ISO 4217 currency; never a float. */
export interface Money {
  readonly amount: number;
  readonly currency: string;
}

/** Largest amount we accept: keeps every sum of up to 10^6 lines inside Number.MAX_SAFE_INTEGER. */
export const MAX_MONEY_AMOUNT = 1_000_000_000_00;

const CURRENCY = /^[A-Z]{3}$/;

export class MoneyError extends Error {}

export function money(amount: number, currency: string): Money {
  if (!Number.isSafeInteger(amount)) throw new MoneyError(`amount must be an integer count of minor units, got ${amount}`);
  if (Math.abs(amount) > MAX_MONEY_AMOUNT) throw new MoneyError(`amount ${amount} is beyond the limit ${MAX_MONEY_AMOUNT}`);
  if (!CURRENCY.test(currency)) throw new MoneyError(`currency must be a 3-letter ISO code, got ${currency}`);
  return { amount, currency };
}

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) throw new MoneyError(`cannot combine ${a.currency} with ${b.currency}`);
}

export function add(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(a.amount + b.amount, a.currency);
}

export function subtract(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return money(a.amount - b.amount, a.currency);
}

export function multiply(a: Money, factor: number): Money {
  if (!Number.isSafeInteger(factor)) throw new MoneyError(`factor must be an integer, got ${factor}`);
  return money(a.amount * factor, a.currency);
}

export function sum(items: readonly Money[], currency: string): Money {
  return items.reduce((acc, m) => add(acc, m), money(0, currency));
}

export function isZero(m: Money): boolean {
  return m.amount === 0;
}

export function equals(a: Money, b: Money): boolean {
  return a.amount === b.amount && a.currency === b.currency;
}

/** Splits an amount into `parts` integer shares that add up exactly (remainder to the first shares). */
export function allocate(m: Money, parts: number): Money[] {
  if (!Number.isSafeInteger(parts) || parts < 1) throw new MoneyError(`parts must be a positive integer, got ${parts}`);
  const base = Math.trunc(m.amount / parts);
  let remainder = m.amount - base * parts;
  const step = remainder >= 0 ? 1 : -1;
  const shares: Money[] = [];
  for (let i = 0; i < parts; i++) {
    const extra = remainder !== 0 ? step : 0;
    remainder -= extra;
    shares.push(money(base + extra, m.currency));
  }
  return shares;
}

export function format(m: Money): string {
  const sign = m.amount < 0 ? '-' : '';
  const abs = Math.abs(m.amount);
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')} ${m.currency}`;
}
