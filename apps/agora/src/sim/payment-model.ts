import { AppError, type Money } from '@agora/kernel';
import type { PaymentPort, payment } from '@agora/contracts';
import type { SimProcess, SimRandom } from '@agora/platform';
import { assertAuthorizable, assertRefundable, decideCapture, decideVoid, type IntentState } from '@agora/payment';
import type { SimBug } from './bugs.js';

type Status = payment.PaymentIntent['status'];

interface Intent {
  id: string;
  orderId: string;
  userId: string;
  idempotencyKey: string;
  requestHash: string;
  token: string;
  amount: Money;
  status: Status;
  declineCode: string | undefined;
  providerRef: string | undefined;
  captured: number;
  refunded: number;
  refundReserved: number;
  createdAt: Date;
  updatedAt: Date;
}

/** What the sandbox provider says to a token (services/payment/src/sandbox): approved, or declined with a code. */
export const SIM_TOKENS: Readonly<Record<string, { approved: boolean; declineCode?: string }>> = {
  tok_visa: { approved: true },
  tok_declined: { approved: false, declineCode: 'card_declined' },
  tok_insufficient_funds: { approved: false, declineCode: 'insufficient_funds' },
};

/**
 * Payment's durable state and the provider's ledger (what money really moved). A MODEL of
 * services/payment/src/app/payments.ts: the same idempotency (one intent per authorize key, one
 * refund per refund key, a capture or void asked again answers the first), the same two
 * statements around the provider call of an authorization (a crash between them leaves a PENDING
 * intent without a provider reference, re-driven by the next ask or voided locally), and the REAL
 * intent rules of domain/intent.ts (decideCapture, decideVoid, assertRefundable, assertAuthorizable).
 */
export class PaymentTable {
  readonly intents = new Map<string, Intent>();
  private readonly byKey = new Map<string, string>();
  private readonly refunds = new Map<string, { amount: number }>();
  /** The provider's side: captures made per intent (more than one is a double charge). */
  readonly providerCaptures = new Map<string, number>();

  constructor(private readonly bugs: ReadonlySet<SimBug>) {}

  /** First statement of an authorization: the intent, PENDING, unique on its key. */
  open(body: payment.AuthorizeBody, id: string, requestHash: string, now: Date): Intent {
    const known = this.byKey.get(body.idempotencyKey);
    if (known !== undefined) return copy(this.intents.get(known) as Intent);
    const intent: Intent = {
      id,
      orderId: body.orderId,
      userId: body.userId,
      idempotencyKey: body.idempotencyKey,
      requestHash,
      token: body.token,
      amount: { ...body.amount },
      status: 'PENDING',
      declineCode: undefined,
      providerRef: undefined,
      captured: 0,
      refunded: 0,
      refundReserved: 0,
      createdAt: now,
      updatedAt: now,
    };
    this.intents.set(id, intent);
    this.byKey.set(body.idempotencyKey, id);
    return copy(intent);
  }

  /** Second statement: the provider's answer, applied to a PENDING intent only (a void may have come first). */
  settle(id: string, now: Date): Intent {
    const intent = this.must(id);
    if (intent.status === 'PENDING' && intent.providerRef === undefined) {
      const answer = SIM_TOKENS[intent.token] ?? { approved: false, declineCode: 'invalid_token' };
      intent.providerRef = `sim_${id.slice(0, 8)}`;
      intent.status = answer.approved ? 'AUTHORIZED' : 'DECLINED';
      intent.declineCode = answer.declineCode;
      intent.updatedAt = now;
    }
    return copy(intent);
  }

  capture(id: string, now: Date): Intent {
    const intent = this.must(id);
    const again = this.bugs.has('capture-not-idempotent') && intent.status === 'CAPTURED';
    if (!again && decideCapture(stateOf(intent)) === 'already-captured') return copy(intent);
    this.providerCaptures.set(id, (this.providerCaptures.get(id) ?? 0) + 1);
    intent.status = 'CAPTURED';
    intent.captured = again ? intent.captured : intent.amount.amount;
    intent.updatedAt = now;
    return copy(intent);
  }

  void(id: string, now: Date): Intent {
    const intent = this.must(id);
    if (decideVoid(stateOf(intent)) === 'nothing-held') return copy(intent);
    intent.status = 'VOIDED';
    intent.updatedAt = now;
    return copy(intent);
  }

  refund(id: string, amount: Money, key: string, now: Date): Intent {
    const intent = this.must(id);
    const refundKey = `${id}:${key}`;
    const known = this.refunds.get(refundKey);
    if (known) {
      if (known.amount !== amount.amount) throw new AppError('IDEMPOTENCY_MISMATCH', 'idempotency key was used for another refund amount');
      return copy(intent);
    }
    assertRefundable(stateOf(intent), amount);
    this.refunds.set(refundKey, { amount: amount.amount });
    intent.refundReserved += amount.amount;
    intent.refunded += amount.amount;
    if (intent.refunded === intent.captured) intent.status = 'REFUNDED';
    intent.updatedAt = now;
    return copy(intent);
  }

  ofOrder(orderId: string): Intent[] {
    return [...this.intents.values()].filter((i) => i.orderId === orderId).map(copy);
  }

  private must(id: string): Intent {
    const intent = this.intents.get(id);
    if (!intent) throw new AppError('NOT_FOUND', `payment ${id} not found`);
    return intent;
  }
}

function copy(i: Intent): Intent {
  return { ...i, amount: { ...i.amount } };
}

function stateOf(i: Intent): IntentState {
  return { id: i.id, status: i.status, amount: i.amount, capturedAmount: i.captured, refundedAmount: i.refunded, refundReserved: i.refundReserved, providerRef: i.providerRef };
}

export function intentDto(i: Intent): payment.PaymentIntent {
  return {
    id: i.id,
    orderId: i.orderId,
    userId: i.userId,
    amount: { ...i.amount },
    status: i.status,
    ...(i.declineCode === undefined ? {} : { declineCode: i.declineCode }),
    provider: 'sandbox',
    createdAt: i.createdAt.toISOString(),
    updatedAt: i.updatedAt.toISOString(),
    capturedAmount: { amount: i.captured, currency: i.amount.currency },
    refundedAmount: { amount: i.refunded, currency: i.amount.currency },
  };
}

/** The payment port of one life of the payment process: each operation one or two statements of its database. */
export class PaymentPortModel implements PaymentPort {
  constructor(
    private readonly table: PaymentTable,
    private readonly process: SimProcess,
    private readonly random: SimRandom,
  ) {}

  async authorize(body: payment.AuthorizeBody): Promise<payment.PaymentIntent> {
    assertAuthorizable(body.amount);
    const hash = JSON.stringify([body.orderId, body.userId, body.amount.amount, body.amount.currency, body.token]);
    const id = this.random.uuid();
    const opened = await this.process.statement('authorize open', () => this.table.open(body, id, hash, this.now()));
    if (opened.requestHash !== hash) throw new AppError('IDEMPOTENCY_MISMATCH', 'idempotency key was used for another authorization');
    if (opened.status !== 'PENDING' || opened.providerRef !== undefined) return intentDto(opened);
    return intentDto(await this.process.statement('authorize settle', () => this.table.settle(opened.id, this.now())));
  }

  async capture(intentId: string): Promise<payment.PaymentIntent> {
    return intentDto(await this.process.statement('capture', () => this.table.capture(intentId, this.now())));
  }

  async void(intentId: string): Promise<payment.PaymentIntent> {
    return intentDto(await this.process.statement('void', () => this.table.void(intentId, this.now())));
  }

  async refund(intentId: string, amount: Money, idempotencyKey: string): Promise<payment.PaymentIntent> {
    return intentDto(await this.process.statement('refund', () => this.table.refund(intentId, amount, idempotencyKey, this.now())));
  }

  async paymentsOf(orderId: string): Promise<payment.PaymentIntent[]> {
    return (await this.process.statement('payments of', () => this.table.ofOrder(orderId))).map(intentDto);
  }

  private now(): Date {
    return this.process.rt.clock.now();
  }
}
