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
