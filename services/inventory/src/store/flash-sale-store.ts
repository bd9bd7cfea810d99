import { sql } from 'drizzle-orm';
import { AppError } from '@agora/kernel';
import { flashSale } from '@agora/contracts';
import { newEnvelope, writeOutbox, type Storage, type Tx } from '@agora/platform';
import { recordStockChanges, INVENTORY_SCHEMA, type StockRow } from './stock-facts.js';

/** A sale as stored (times as Date, money split in two columns). */
export interface SaleRow {
  id: string;
  sku: string;
  quantity: number;
  sold: number;
  priceAmount: number;
  currency: string;
  startsAt: Date;
  endsAt: Date;
  perUserLimit: number;
  /** Seconds a buyer has to pay; undefined: the order service's default. */
  paymentWindowSeconds: number | undefined;
}

export type TicketRowStatus = 'TAKEN' | 'REFUSED' | 'PAID' | 'RETURNED';

export interface TicketRow {
  ticketId: string;
  saleId: string;
  userId: string;
  quantity: number;
  status: TicketRowStatus;
}

/** Units per ticket status of one sale, from one statement. */
export interface SaleTally {
  taken: number;
  paid: number;
  refused: number;
  returned: number;
}

interface RawSale {
  id: string;
  sku: string;
  quantity: number;
  sold: number;
  price_amount: number;
  currency: string;
  starts_at: string | Date;
  ends_at: string | Date;
  per_user_limit: number;
  payment_window_seconds: number | null;
}

const SALE_COLUMNS = sql`id, sku, quantity, sold, price_amount, currency, starts_at, ends_at, per_user_limit, payment_window_seconds`;

function saleOf(row: RawSale): SaleRow {
  return {
    id: row.id,
    sku: row.sku,
    quantity: Number(row.quantity),
    sold: Number(row.sold),
    priceAmount: Number(row.price_amount),
    currency: row.currency,
    startsAt: new Date(row.starts_at),
    endsAt: new Date(row.ends_at),
    perUserLimit: Number(row.per_user_limit),
    paymentWindowSeconds: row.payment_window_seconds === null ? undefined : Number(row.payment_window_seconds),
  };
}

export type TakeOutcome = { kind: 'taken' | 'already'; ticket: TicketRow } | { kind: 'refused'; ticket: TicketRow; reason: string };

/**
 * Flash sales in PostgreSQL, where every unit is decided. Lock order: a sale's row, then (only
 * when a sale is created) the SKU's stock row — never the other way, so takes and set-asides
 * cannot deadlock.
 */
export class FlashSaleStore {
  constructor(private readonly storage: Storage) {}

  /**
   * Sets the sale's units aside from the SKU's stock and records the sale, in ONE transaction:
   * `on_hand` goes down by `quantity` only where `on_hand - reserved >= quantity` (the CHECKs on
   * stock stay the last line), so a sale never holds a unit a checkout could also sell.
   */
  async create(sale: Omit<SaleRow, 'sold'>, now: Date): Promise<SaleRow> {
    return this.storage.transaction(async (tx) => {
      const moved = await this.storage.query<StockRow>(
        sql`update inventory.stock set on_hand = on_hand - ${sale.quantity}, updated_at = now()
            where sku = ${sale.sku} and on_hand - reserved >= ${sale.quantity}
            returning sku, on_hand, reserved`,
        tx,
      );
      if (moved.length === 0) {
        const [level] = await this.storage.query<{ available: number }>(sql`select on_hand - reserved as available from inventory.stock where sku = ${sale.sku}`, tx);
        if (!level) throw new AppError('NOT_FOUND', `No stock is kept for SKU ${sale.sku}`);
        throw new AppError('OUT_OF_STOCK', `SKU ${sale.sku} has ${Number(level.available)} units available, fewer than the ${sale.quantity} the sale sets aside`, {
          extras: { skus: [sale.sku] },
        });
      }
      const [row] = await this.storage.query<RawSale>(
        sql`insert into inventory.flash_sales (id, sku, quantity, sold, price_amount, currency, starts_at, ends_at, per_user_limit, payment_window_seconds)
            values (${sale.id}::uuid, ${sale.sku}, ${sale.quantity}, 0, ${sale.priceAmount}, ${sale.currency},
                    ${sale.startsAt.toISOString()}::timestamptz, ${sale.endsAt.toISOString()}::timestamptz, ${sale.perUserLimit},
                    ${sale.paymentWindowSeconds ?? null}::int)
            returning ${SALE_COLUMNS}`,
        tx,
      );
      if (!row) throw new Error('flash sale insert returned no row');
      await recordStockChanges(this.storage, tx, moved, `set aside for flash sale ${sale.id}`, now);
      return saleOf(row);
    });
  }

  async get(saleId: string): Promise<SaleRow | undefined> {
    const [row] = await this.storage.query<RawSale>(sql`select ${SALE_COLUMNS} from inventory.flash_sales where id = ${saleId}::uuid`);
    return row ? saleOf(row) : undefined;
  }

  /** Sales that may still sell or take units back (ended less than `horizonMs` ago), newest first, at most `limit`. */
  async live(now: Date, horizonMs: number, limit: number): Promise<SaleRow[]> {
    const rows = await this.storage.query<RawSale>(
      sql`select ${SALE_COLUMNS} from inventory.flash_sales
          where ends_at > ${new Date(now.getTime() - horizonMs).toISOString()}::timestamptz order by id desc limit ${limit}`,
    );
    return rows.map(saleOf);
  }

  async list(limit: number): Promise<SaleRow[]> {
    const rows = await this.storage.query<RawSale>(sql`select ${SALE_COLUMNS} from inventory.flash_sales order by id desc limit ${limit}`);
    return rows.map(saleOf);
  }

  /**
   * Takes a ticket's units, idempotently by ticket id. The sale's row is locked first, so the
   * takes of one sale run one at a time: the buyer's count and `sold + q <= quantity` are judged
   * on what is committed, whatever Redis said. A taken ticket's UnitTaken fact (the order to
   * open) is written in the same transaction; a refused one is recorded, so its ticket answers EXPIRED.
   */
  async take(ticket: Omit<TicketRow, 'status'>, now: Date): Promise<TakeOutcome> {
    return this.storage.transaction(async (tx) => {
      const [sale] = await this.storage.query<RawSale>(sql`select ${SALE_COLUMNS} from inventory.flash_sales where id = ${ticket.saleId}::uuid for update`, tx);
      if (!sale) throw new AppError('NOT_FOUND', `flash sale ${ticket.saleId} not found`);
      const known = await this.ticket(ticket.ticketId, tx);
      if (known) return { kind: 'already', ticket: known };
      const [mine] = await this.storage.query<{ units: number }>(
        sql`select coalesce(sum(quantity), 0) as units from inventory.flash_sale_tickets
            where sale_id = ${ticket.saleId}::uuid and user_id = ${ticket.userId}::uuid and status in ('TAKEN', 'PAID')`,
        tx,
      );
      const refusal = Number(mine?.units ?? 0) + ticket.quantity > Number(sale.per_user_limit) ? 'over the per-user limit' : undefined;
      const updated = refusal
        ? []
        : await this.storage.query<{ sold: number }>(
            sql`update inventory.flash_sales set sold = sold + ${ticket.quantity}
                where id = ${ticket.saleId}::uuid and sold + ${ticket.quantity} <= quantity returning sold`,
            tx,
          );
      const status: TicketRowStatus = updated.length === 1 ? 'TAKEN' : 'REFUSED';
      const reason = status === 'TAKEN' ? null : (refusal ?? 'sold out');
      await this.insertTicket(tx, { ...ticket, status }, reason);
      const row: TicketRow = { ...ticket, status };
      if (status === 'REFUSED') return { kind: 'refused', ticket: row, reason: reason ?? '' };
      const payload: flashSale.UnitTaken = {
        ticketId: ticket.ticketId,
        saleId: ticket.saleId,
        userId: ticket.userId,
        sku: sale.sku,
        quantity: ticket.quantity,
        unitPrice: { amount: Number(sale.price_amount), currency: sale.currency },
        ...(sale.payment_window_seconds === null ? {} : { paymentWindowSeconds: Number(sale.payment_window_seconds) }),
      };
      await writeOutbox(this.storage, tx, INVENTORY_SCHEMA, [
        newEnvelope(flashSale.FLASH_SALE_EVENT_TYPES.UnitTaken, ticket.saleId, payload, now),
      ]);
      return { kind: 'taken', ticket: row };
    });
  }

  private async insertTicket(tx: Tx, ticket: TicketRow, reason: string | null): Promise<void> {
    await this.storage.query(
      sql`insert into inventory.flash_sale_tickets (ticket_id, sale_id, user_id, quantity, status, reason)
          values (${ticket.ticketId}::uuid, ${ticket.saleId}::uuid, ${ticket.userId}::uuid, ${ticket.quantity}, ${ticket.status}, ${reason})`,
      tx,
    );
  }

  /** A taken ticket's units go back to the sale (TAKEN → RETURNED, `sold` down), once; undefined when it was not TAKEN. */
  async release(ticketId: string, reason: string): Promise<TicketRow | undefined> {
    return this.storage.transaction(async (tx) => {
      const [row] = await this.storage.query<{ sale_id: string; user_id: string; quantity: number }>(
        sql`update inventory.flash_sale_tickets set status = 'RETURNED', reason = ${reason}, updated_at = now()
            where ticket_id = ${ticketId}::uuid and status = 'TAKEN' returning sale_id, user_id, quantity`,
        tx,
      );
      if (!row) return undefined;
      await this.storage.query(sql`update inventory.flash_sales set sold = sold - ${Number(row.quantity)} where id = ${row.sale_id}::uuid`, tx);
      return { ticketId, saleId: row.sale_id, userId: row.user_id, quantity: Number(row.quantity), status: 'RETURNED' };
    });
  }

  /** TAKEN → PAID when the order is confirmed; false for any other ticket (or an order of no sale). */
  async markPaid(ticketId: string): Promise<boolean> {
    const rows = await this.storage.query<{ ticket_id: string }>(
      sql`update inventory.flash_sale_tickets set status = 'PAID', updated_at = now() where ticket_id = ${ticketId}::uuid and status = 'TAKEN' returning ticket_id`,
    );
    return rows.length === 1;
  }

  async ticket(ticketId: string, tx?: Tx): Promise<TicketRow | undefined> {
    const [row] = await this.storage.query<{ ticket_id: string; sale_id: string; user_id: string; quantity: number; status: TicketRowStatus }>(
      sql`select ticket_id, sale_id, user_id, quantity, status from inventory.flash_sale_tickets where ticket_id = ${ticketId}::uuid`,
      tx,
    );
    return row ? { ticketId: row.ticket_id, saleId: row.sale_id, userId: row.user_id, quantity: Number(row.quantity), status: row.status } : undefined;
  }

  /** Units each buyer holds (taken or paid): what a reloaded counter starts from. */
  async bought(saleId: string): Promise<Map<string, number>> {
    const rows = await this.storage.query<{ user_id: string; units: number }>(
      sql`select user_id, sum(quantity) as units from inventory.flash_sale_tickets
          where sale_id = ${saleId}::uuid and status in ('TAKEN', 'PAID') group by user_id`,
    );
    return new Map(rows.map((r) => [r.user_id, Number(r.units)]));
  }

  async tally(saleId: string): Promise<SaleTally> {
    const rows = await this.storage.query<{ status: TicketRowStatus; units: number }>(
      sql`select status, sum(quantity) as units from inventory.flash_sale_tickets where sale_id = ${saleId}::uuid group by status`,
    );
    const of = (status: TicketRowStatus): number => Number(rows.find((r) => r.status === status)?.units ?? 0);
    return { taken: of('TAKEN'), paid: of('PAID'), refused: of('REFUSED'), returned: of('RETURNED') };
  }
}
