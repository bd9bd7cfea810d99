import { newId, type Clock, type Money } from '@agora/kernel';
import type { payment } from '@agora/contracts';
import type { Logger } from '@agora/platform';
import { ProviderError, type AuthorizeRequest, type AuthorizeResult, type OperationResult, type PaymentProvider } from '../app/provider.js';
import { signatureHeader } from '../domain/signature.js';

/**
 * The built-in sandbox provider. Card tokens decide the outcome (README: Checkout, and what it guarantees):
 * `tok_visa` approved; `tok_declined` declined (card_declined); `tok_insufficient_funds` declined
 * (insufficient_funds); `tok_error` a technical failure on every call; `tok_async` pending, then a
 * signed `payment.authorized` webhook a moment later; `tok_capture_fails` approved, but every capture
 * of it is refused (capture_declined), a business answer and not a technical failure, so the
 * checkout takes its capture compensation. Any other token is declined (`invalid_token`), as a real
 * provider declines a token it does not know.
 *
 * Like a real provider it deduplicates every call by idempotency key, and it signs webhooks with the
 * shared secret exactly as the service verifies them. Its ledger lives in this process's memory: it
 * is a sandbox, not a bank. A real provider's ledger outlives our processes, though, so a charge
 * made before a crash must still be capturable, voidable and refundable after the restart, and a
 * pending one must still settle: `recall` relearns an unknown charge from the payment service's
 * records, and `resumePending` settles (and re-sends the webhook of) charges left pending.
 */
export const SANDBOX_PROVIDER = 'sandbox';

export const SANDBOX_DECLINE_CODES = {
  tok_declined: 'card_declined',
  tok_insufficient_funds: 'insufficient_funds',
  unknown: 'invalid_token',
} as const;

/** Why the sandbox refuses to capture a `tok_capture_fails` authorization. */
export const SANDBOX_CAPTURE_DECLINE_CODE = 'capture_declined';

export const SANDBOX_DEFAULT_ASYNC_DELAY_MS = 200;

export interface SandboxDelivery {
  event: payment.WebhookEvent;
  /** Exactly the text that was signed; the transport must send `JSON.stringify(event)`, which is this. */
  rawBody: string;
  signature: string;
}

export interface SandboxOptions {
  /** The webhook signing secret, shared with the service that verifies it. */
  secret: string;
  clock: Clock;
  /** Delay before a `tok_async` authorization settles and its webhook is sent. */
  asyncDelayMs?: number;
  /** Sends a signed webhook; throws when it was not accepted (2xx), and the sandbox retries. */
  deliver(delivery: SandboxDelivery): Promise<void>;
  /** How often a webhook delivery is tried before the sandbox gives up. */
  deliveryAttempts?: number;
  deliveryBackoffMs?: number;
  logger?: Logger;
  /**
   * Looks up a charge this sandbox does not know: one it made before this process restarted (or
   * another process's sandbox made). Without it such a charge is unknown and refused.
   */
  recall?(providerRef: string): Promise<RecalledCharge | undefined>;
}

type ChargeState = 'pending' | 'authorized' | 'declined' | 'captured' | 'voided';

/** A charge as the payment service's records describe it: what a restarted sandbox relearns. */
export interface RecalledCharge {
  ref: string;
  intentId: string;
  amount: Money;
  state: ChargeState;
  captured: number;
  refunded: number;
}

interface Charge {
  ref: string;
  intentId: string;
  amount: Money;
  state: ChargeState;
  captured: number;
  refunded: number;
  /**
   * Set when the card's issuer refuses captures (`tok_capture_fails`). Decided at authorization and
   * kept in this process's ledger only: a charge relearned after a restart (`recall`) captures.
   */
  captureDeclineCode?: string;
}

/** Calls received (every retry counts) and effects performed (money actually moved). */
export interface SandboxStats {
  calls: { authorize: number; capture: number; void: number; refund: number };
  effects: { authorizations: number; captures: number; voids: number; refunds: number };
  webhooksDelivered: number;
}

export class SandboxProvider implements PaymentProvider {
  readonly name = SANDBOX_PROVIDER;
  private readonly authorizations = new Map<string, AuthorizeResult>();
  private readonly operations = new Map<string, OperationResult>();
  private readonly charges = new Map<string, Charge>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly deliveries = new Set<Promise<void>>();
  private stopped = false;
  private readonly counts: SandboxStats = {
    calls: { authorize: 0, capture: 0, void: 0, refund: 0 },
    effects: { authorizations: 0, captures: 0, voids: 0, refunds: 0 },
    webhooksDelivered: 0,
  };

  constructor(private readonly options: SandboxOptions) {}

  get stats(): SandboxStats {
    return structuredClone(this.counts);
  }

  /** The sandbox's own view of a charge (what it authorized, captured, refunded). */
  chargeOf(providerRef: string): Readonly<Charge> | undefined {
    const charge = this.charges.get(providerRef);
    return charge ? { ...charge } : undefined;
  }

  async authorize(request: AuthorizeRequest): Promise<AuthorizeResult> {
    this.counts.calls.authorize += 1;
    if (request.token === 'tok_error') throw new ProviderError('sandbox: simulated provider failure (tok_error)');
    const known = this.authorizations.get(request.idempotencyKey);
    if (known) return { ...known };

    const ref = `sbx_ch_${newId()}`;
    let result: AuthorizeResult;
    switch (request.token) {
      case 'tok_visa':
      case 'tok_capture_fails':
        result = { outcome: 'approved', providerRef: ref };
        break;
      case 'tok_declined':
      case 'tok_insufficient_funds':
        result = { outcome: 'declined', providerRef: ref, declineCode: SANDBOX_DECLINE_CODES[request.token] };
        break;
      case 'tok_async':
        result = { outcome: 'pending', providerRef: ref };
        break;
      default:
        result = { outcome: 'declined', providerRef: ref, declineCode: SANDBOX_DECLINE_CODES.unknown };
    }
    const state: ChargeState = result.outcome === 'approved' ? 'authorized' : result.outcome === 'pending' ? 'pending' : 'declined';
    const captureDecline = request.token === 'tok_capture_fails' ? { captureDeclineCode: SANDBOX_CAPTURE_DECLINE_CODE } : {};
    this.charges.set(ref, { ref, intentId: request.intentId, amount: request.amount, state, captured: 0, refunded: 0, ...captureDecline });
    this.authorizations.set(request.idempotencyKey, result);
    if (state === 'authorized') this.counts.effects.authorizations += 1;
    if (state === 'pending') this.later(this.options.asyncDelayMs ?? SANDBOX_DEFAULT_ASYNC_DELAY_MS, () => this.settle(ref));
    return { ...result };
  }

  async capture(providerRef: string, amount: Money, idempotencyKey: string): Promise<OperationResult> {
    this.counts.calls.capture += 1;
    return this.once(idempotencyKey, providerRef, 'sbx_cp_', (charge) => {
      if (charge.state !== 'authorized') throw new ProviderError(`sandbox: charge ${providerRef} is ${charge.state}, cannot capture`, false);
      // Not retryable: the provider answered, and the same capture would be refused again.
      if (charge.captureDeclineCode !== undefined) throw new ProviderError(`sandbox: capture of ${providerRef} declined (${charge.captureDeclineCode})`, false);
      if (amount.currency !== charge.amount.currency || amount.amount > charge.amount.amount) {
        throw new ProviderError(`sandbox: capture of ${amount.amount} ${amount.currency} exceeds the authorization`, false);
      }
      charge.state = 'captured';
      charge.captured = amount.amount;
      this.counts.effects.captures += 1;
    });
  }

  async void(providerRef: string, idempotencyKey: string): Promise<OperationResult> {
    this.counts.calls.void += 1;
    return this.once(idempotencyKey, providerRef, 'sbx_vd_', (charge) => {
      if (charge.state === 'captured') throw new ProviderError(`sandbox: charge ${providerRef} is captured, cannot void`, false);
      if (charge.state !== 'voided') {
        charge.state = 'voided';
        this.counts.effects.voids += 1;
      }
    });
  }

  async refund(providerRef: string, amount: Money, idempotencyKey: string): Promise<OperationResult> {
    this.counts.calls.refund += 1;
    return this.once(idempotencyKey, providerRef, 'sbx_re_', (charge) => {
      if (charge.state !== 'captured') throw new ProviderError(`sandbox: charge ${providerRef} is ${charge.state}, cannot refund`, false);
      if (amount.currency !== charge.amount.currency || charge.refunded + amount.amount > charge.captured) {
        throw new ProviderError(`sandbox: refund of ${amount.amount} exceeds what is left on ${providerRef}`, false);
      }
      charge.refunded += amount.amount;
      this.counts.effects.refunds += 1;
    });
  }

  /** Cancels scheduled settlements and waits for deliveries already on their way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.deliveries]);
  }

  /**
   * Relearns charges the payment service still has PENDING (this process restarted before they
   * settled): each settles a moment later and its webhook goes out, as a real provider would
   * (re-)deliver it. Returns how many were taken on.
   */
  resumePending(charges: readonly RecalledCharge[]): number {
    let resumed = 0;
    for (const recalled of charges) {
      if (recalled.state !== 'pending' || this.charges.has(recalled.ref)) continue;
      this.charges.set(recalled.ref, { ...recalled });
      this.later(this.options.asyncDelayMs ?? SANDBOX_DEFAULT_ASYNC_DELAY_MS, () => this.settle(recalled.ref));
      resumed += 1;
    }
    return resumed;
  }

  private async charge(providerRef: string): Promise<Charge> {
    const known = this.charges.get(providerRef);
    if (known) return known;
    const recalled = await this.options.recall?.(providerRef);
    // A concurrent call may have relearned it meanwhile: one charge object per reference.
    const charge = this.charges.get(providerRef) ?? (recalled && recalled.ref === providerRef ? { ...recalled } : undefined);
    if (!charge) throw new ProviderError(`sandbox: no charge ${providerRef}`, false);
    this.charges.set(providerRef, charge);
    return charge;
  }

  /**
   * An operation on a charge, at most once per idempotency key: a repeat answers the first result,
   * also when it arrives while the charge is being looked up. `apply` checks and changes the
   * charge, or throws a ProviderError.
   */
  private async once(key: string, providerRef: string, refPrefix: string, apply: (charge: Charge) => void): Promise<OperationResult> {
    const known = this.operations.get(key);
    if (known) return { ...known };
    const charge = await this.charge(providerRef);
    const settled = this.operations.get(key);
    if (settled) return { ...settled };
    try {
      apply(charge);
    } catch (err) {
      // A real provider is one system; the sandbox is one ledger per payment process, so with
      // several (`agora cluster`) another process may have captured, voided or refunded a charge
      // this one authorized. Before refusing, catch up with the payment service's records: a
      // stale ledger would refuse to refund a charge it still thinks is only authorized. Only on
      // a refusal, so the accepted path costs no read.
      const learned = err instanceof ProviderError ? await this.options.recall?.(providerRef) : undefined;
      if (!learned || learned.ref !== providerRef || !catchUp(charge, learned)) throw err;
      apply(charge);
    }
    return this.remember(key, { providerRef: `${refPrefix}${newId()}` });
  }

  private remember(key: string, result: OperationResult): OperationResult {
    this.operations.set(key, result);
    return { ...result };
  }

  private later(delayMs: number, work: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, delayMs);
    this.timers.add(timer);
  }

  /** A pending authorization settles as approved (the sandbox's `tok_async`) and the webhook goes out. */
  private settle(ref: string): void {
    const charge = this.charges.get(ref);
    if (!charge || charge.state !== 'pending') return;
    charge.state = 'authorized';
    this.counts.effects.authorizations += 1;
    const event: payment.WebhookEvent = { id: `evt_${newId()}`, type: 'payment.authorized', paymentId: charge.intentId, providerRef: ref };
    this.send(event, 1);
  }

  private send(event: payment.WebhookEvent, attempt: number): void {
    if (this.stopped) return;
    const rawBody = JSON.stringify(event);
    // Signed at send time, like a provider does for every (re)delivery.
    const timestamp = Math.floor(this.options.clock.now().getTime() / 1000);
    const delivery = this.options
      .deliver({ event, rawBody, signature: signatureHeader(this.options.secret, timestamp, rawBody) })
      .then(
        () => {
          this.counts.webhooksDelivered += 1;
        },
        (err: unknown) => {
          const attempts = this.options.deliveryAttempts ?? 5;
          const retry = attempt < attempts;
          this.options.logger?.warn({ err, eventId: event.id, attempt, retry }, 'sandbox webhook delivery failed');
          if (retry) this.later((this.options.deliveryBackoffMs ?? 200) * 2 ** (attempt - 1), () => this.send(event, attempt + 1));
        },
      )
      .finally(() => this.deliveries.delete(delivery));
    this.deliveries.add(delivery);
  }
}

/** How far along a charge is: a later stage is never undone by an earlier one. */
const CHARGE_STAGE: Readonly<Record<ChargeState, number>> = { pending: 0, authorized: 1, declined: 1, captured: 2, voided: 2 };

/** Moves this ledger's charge forward to what the records say happened elsewhere; whether anything moved. */
function catchUp(charge: Charge, learned: RecalledCharge): boolean {
  const before = `${charge.state}:${charge.captured}:${charge.refunded}`;
  if (CHARGE_STAGE[learned.state] > CHARGE_STAGE[charge.state]) charge.state = learned.state;
  charge.captured = Math.max(charge.captured, learned.captured);
  charge.refunded = Math.max(charge.refunded, learned.refunded);
  return `${charge.state}:${charge.captured}:${charge.refunded}` !== before;
}
