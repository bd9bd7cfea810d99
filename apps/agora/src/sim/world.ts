import { AppError, isAppError, toProblem } from '@agora/kernel';
import type { CartPort, CatalogPort, InventoryPort, PaymentPort } from '@agora/contracts';
import type { Order } from '@agora/contracts/order';
import {
  InProcessBoundary,
  SimNetwork,
  SimProcess,
  SimSagaHost,
  SimSagaTable,
  createLogger,
  defineStep,
  hashRequest,
  isTransientFault,
  type SagaDefinition,
  type SagaLogEntry,
  type SagaOutcome,
  type SagaStep,
  type SimDatabasePlan,
  type SimNetworkPlan,
  type SimRuntime,
} from '@agora/platform';
import { CHECKOUT_LIMITS, Collaborators, FreshAnswers, OrderStore, checkoutSaga, priceSnapshot, type CheckoutInput } from '@agora/order';
import { InProcessInventoryPort, ReservationsApp } from '@agora/inventory';
import type { SimBug } from './bugs.js';
import { InventoryTable, ReservationStoreModel } from './inventory-model.js';
import { CartTable, OrderStoreModel, OrderTable, type SimAnswer } from './order-model.js';
import { PaymentPortModel, PaymentTable } from './payment-model.js';

/** The shape of every run; each seed draws its own workload and fault rates within these. */
export const SIM_WORLD = {
  orderInstances: ['order-a', 'order-b'],
  skus: ['SIM-A', 'SIM-B', 'SIM-C'],
  /** Units per SKU at the start: 0..this, scarce enough that shoppers compete for the last ones. */
  maxUnitsPerSku: 10,
  unitPrice: 1_250,
  currency: 'EUR',
  /** Faults are injected only before this (virtual ms); then every process is healed and the run must settle. */
  faultWindowMs: 10_000,
  shoppers: { min: 2, max: 8 },
  /** Saga lease of the order instances (virtual ms): short, so a stopped instance loses its sagas often. */
  leaseMs: 3_000,
  recoveryIntervalMs: 1_000,
  recoveryBatch: 16,
  downtimeMs: { min: 50, max: 4_000 },
  shopperRetryMs: { min: 100, max: 2_000 },
  pollMs: 500,
} as const;

export interface Shopper {
  index: number;
  userId: string;
  key: string;
  lines: { sku: string; quantity: number }[];
  token: string;
  /** Answers to the checkout request (and its duplicates), normalised: `status orderId`. */
  answers: string[];
  orderId: string | undefined;
  /** The order's status once the shopper saw it settled. */
  finalStatus: string | undefined;
  /** Answers of 5xx (an unclassified error in a drive): allowed, counted. */
  serverErrors: number;
  done: boolean;
}

/** Everything one run holds: its durable tables (which the invariants read) and its shoppers. */
export interface SimWorld {
  rt: SimRuntime;
  bugs: ReadonlySet<SimBug>;
  initialStock: Map<string, number>;
  orders: OrderTable;
  sagas: SimSagaTable;
  inventory: InventoryTable;
  payments: PaymentTable;
  cart: CartTable;
  shoppers: Shopper[];
  processes: SimProcess[];
  /** Violations seen while running (after a statement, at a log entry). */
  violations: string[];
  healed: boolean;
}

/** The fault rates of one run, drawn from its seed: some seeds are calm, some stormy. */
interface FaultPlan {
  network: SimNetworkPlan;
  db: SimDatabasePlan;
  /** Chance of a crash of the order instance at each entry of the saga log (between any two steps). */
  crashAtLogEntry: number;
  /** Chance, per second of virtual time, of a crash or a stop of a random process. */
  crashPerSecond: number;
  stopPerSecond: number;
}

function drawPlan(rt: SimRuntime): FaultPlan {
  const { random } = rt;
  const storm = random.next();
  const rate = (max: number): number => (random.chance(0.25) ? 0 : random.next() * max * storm);
  return {
    network: {
      minLatencyMs: 1,
      maxLatencyMs: random.int(2, 60),
      dropRequestRate: rate(0.08),
      dropResponseRate: rate(0.08),
      duplicateRate: rate(0.15),
      callTimeoutMs: 1_500,
    },
    db: { minLatencyMs: 0, maxLatencyMs: random.int(1, 8), faultRate: rate(0.05), lostAckRate: rate(0.03) },
    crashAtLogEntry: rate(0.04),
    crashPerSecond: rate(0.3),
    stopPerSecond: rate(0.15),
  };
}

const logger = createLogger('sim', 'silent');

/** Builds one run's world: its processes, tables, network and shoppers, all drawn from `rt`'s seed. */
export function buildWorld(rt: SimRuntime, bugs: ReadonlySet<SimBug>): { world: SimWorld; start(): void } {
  const { random } = rt;
  const plan = drawPlan(rt);
  const skuCount = random.int(1, SIM_WORLD.skus.length);
  const skus = SIM_WORLD.skus.slice(0, skuCount);
  const initialStock = new Map(skus.map((sku) => [sku, random.int(0, SIM_WORLD.maxUnitsPerSku)]));
  const world: SimWorld = {
    rt,
    bugs,
    initialStock,
    orders: new OrderTable(),
    sagas: new SimSagaTable(),
    inventory: new InventoryTable(
      [...initialStock].map(([sku, onHand]) => ({ sku, onHand })),
      bugs,
    ),
    payments: new PaymentTable(bugs),
    cart: new CartTable(),
    shoppers: [],
    processes: [],
    violations: [],
    healed: false,
  };
  const network = new SimNetwork(rt, plan.network);
  const proc = (name: string): SimProcess => {
    const p = new SimProcess(name, rt, plan.db);
    world.processes.push(p);
    return p;
  };
  const orderProcs = SIM_WORLD.orderInstances.map(proc);
  const inventoryProc = proc('inventory');
  const paymentProc = proc('payment');
  const cartProc = proc('cart');
  const shopperProc = new SimProcess('shoppers', rt, { minLatencyMs: 0, maxLatencyMs: 0, faultRate: 0, lostAckRate: 0 });

  // The callees' port objects, one per life of their process (a restart builds them again).
  let inventoryPort: InventoryPort = newInventoryPort();
  let paymentPort: PaymentPort = newPaymentPort();
  function newInventoryPort(): InventoryPort {
    const notModelled = () => Promise.reject(new Error('sim: the checkout reads no stock levels and buys in no flash sale'));
    return new InProcessInventoryPort(new ReservationsApp(new ReservationStoreModel(world.inventory, inventoryProc).asStore(), rt.clock), { availability: notModelled }, { purchase: notModelled }, logger);
  }
  function newPaymentPort(): PaymentPort {
    const model = new PaymentPortModel(world.payments, paymentProc, random);
    const boundary = new InProcessBoundary('payment', logger);
    return {
      authorize: (body) => boundary.run('authorize', () => model.authorize(body)),
      capture: (id) => boundary.run('capture', () => model.capture(id)),
      void: (id) => boundary.run('void', () => model.void(id)),
      refund: (id, amount, key) => boundary.run('refund', () => model.refund(id, amount, key)),
      paymentsOf: (orderId) => boundary.run('paymentsOf', () => model.paymentsOf(orderId)),
    };
  }

  /** The order service's collaborators as seen from `from`: every call crosses the network. */
  function collaborators(from: SimProcess): Collaborators {
    const inv: InventoryPort = {
      reserve: (body) => network.call(from, inventoryProc, 'reserve', () => inventoryPort.reserve(body)),
      commit: (id) => network.call(from, inventoryProc, 'commit', () => inventoryPort.commit(id)),
      release: (id) => network.call(from, inventoryProc, 'release', () => inventoryPort.release(id)),
      restock: (id) => network.call(from, inventoryProc, 'restock', () => inventoryPort.restock(id)),
      availability: (skus) => network.call(from, inventoryProc, 'availability', () => inventoryPort.availability(skus)),
      purchase: (caller, saleId, key, quantity) => network.call(from, inventoryProc, 'purchase', () => inventoryPort.purchase(caller, saleId, key, quantity)),
    };
    const pay: PaymentPort = {
      authorize: (body) => network.call(from, paymentProc, 'authorize', () => paymentPort.authorize(body)),
      capture: (id, key) => network.call(from, paymentProc, 'capture', () => paymentPort.capture(id, key)),
      void: (id, key) => network.call(from, paymentProc, 'void', () => paymentPort.void(id, key)),
      refund: (id, amount, key) => network.call(from, paymentProc, 'refund', () => paymentPort.refund(id, amount, key)),
      paymentsOf: (orderId) => network.call(from, paymentProc, 'paymentsOf', () => paymentPort.paymentsOf(orderId)),
    };
    const cart: CartPort = {
      add: () => Promise.reject(new Error('sim: the checkout front is modelled; it adds nothing to a cart')),
      lines: () => Promise.reject(new Error('sim: the checkout front is modelled; it reads no cart')),
      checkedOut: (userId, body) =>
        network.call(from, cartProc, 'checkedOut', () => cartProc.statement('checked out', () => ({ orderId: body.orderId, ...world.cart.apply(body.orderId), lines: body.lines }))),
    };
    const noCatalog = () => Promise.reject(new Error('sim: the checkout front is modelled; it reads no catalog'));
    const catalog: CatalogPort = { variants: noCatalog, storefrontProduct: noCatalog, storefrontPage: noCatalog };
    return new Collaborators(undefined as never, { inventory: inv, payment: pay, cart, catalog });
  }

  /** One life of an order instance: the real checkout saga over the real driver, a modelled checkout front. */
  class OrderLife {
    readonly host: SimSagaHost;
    readonly saga: SagaDefinition<CheckoutInput>;
    readonly store: OrderStoreModel;
    readonly answers = new FreshAnswers();

    constructor(readonly process: SimProcess) {
      this.store = new OrderStoreModel(world.orders, process);
      this.saga = plantBugs(checkoutSaga({ store: this.store.asStore(), services: collaborators(process), clock: rt.clock, answers: this.answers }, logger), bugs);
      this.host = new SimSagaHost({
        table: world.sagas,
        process,
        leaseMs: SIM_WORLD.leaseMs,
        recoveryBatch: SIM_WORLD.recoveryBatch,
        onLog: (entry) => this.onLog(entry),
      }).register(this.saga);
      process.every(SIM_WORLD.recoveryIntervalMs, () => void this.host.recover().catch(() => undefined));
    }

    private onLog(entry: SagaLogEntry): void {
      const step = entry.step ? ` ${entry.step.name}/${entry.step.phase}/${entry.step.status}` : '';
      rt.trace(`${this.process.name} saga ${entry.sagaId.slice(0, 8)} ${entry.status}${entry.durable ? '' : ' (replayed)'}${step}`);
      if (!world.healed && random.chance(plan.crashAtLogEntry)) this.process.crash(`at saga entry${step || ` ${entry.status}`}`);
    }

    /** `POST /checkout` as services/order/src/app/checkout/checkout.ts answers it. */
    async checkout(s: Shopper, body: { lines: { sku: string; quantity: number }[]; token: string }): Promise<SimAnswer> {
      const requestHash = hashRequest(body);
      const known = await this.process.statement('find key', () => world.orders.findByKey(s.userId, s.key));
      if (known) return this.again(known, requestHash);
      const orderId = random.uuid();
      const snapshot = priceSnapshot(body.lines.map((l) => ({ sku: l.sku, title: l.sku, quantity: l.quantity, unitPrice: { amount: SIM_WORLD.unitPrice, currency: SIM_WORLD.currency } })));
      const opened: Order = OrderStore.opened({
        id: orderId,
        userId: s.userId,
        idempotencyKey: s.key,
        requestHash,
        openedAt: rt.clock.now(),
        lines: snapshot.lines,
        total: snapshot.total,
        shippingAddress: undefined,
      });
      const input: CheckoutInput = { orderId, userId: s.userId, lines: body.lines, total: snapshot.total, payment: { method: 'card', token: body.token }, opened };
      const born = this.host.birth(this.saga, orderId, input);
      const created = await this.process.statement('open order', () => world.orders.open(opened, s.key, requestHash, () => world.sagas.put(born)));
      if (!created) {
        const key = await this.process.statement('find key', () => world.orders.findByKey(s.userId, s.key));
        if (!key) throw new AppError('CONFLICT', 'order for this idempotency key vanished; retry');
        return this.again(key, requestHash);
      }
      const outcome = await this.within(this.host.driveBorn(born));
      const token = outcome?.status === 'COMPLETED' ? (outcome.results.confirm as { answer?: string } | undefined)?.answer : undefined;
      const confirmed = token === undefined ? undefined : this.answers.take(token);
      if (confirmed) return { status: 201, body: confirmed };
      return this.answer(orderId);
    }

    private async again(key: { id: string; requestHash: string; answer: SimAnswer | undefined }, requestHash: string): Promise<SimAnswer> {
      if (key.requestHash !== requestHash) throw new AppError('IDEMPOTENCY_MISMATCH', 'this Idempotency-Key was used with a different request body');
      if (key.answer) return key.answer;
      await this.within(this.host.drive(key.id));
      return this.answer(key.id);
    }

    private async answer(orderId: string): Promise<SimAnswer> {
      const given = await this.process.statement('find answer', () => world.orders.answerOf(orderId));
      if (given) return given;
      const order = await this.store.get(orderId);
      if (!order) throw new Error(`order ${orderId} vanished during its checkout`);
      const ours = answerFor(order);
      return this.process.statement('record answer', () => world.orders.recordAnswer(orderId, ours));
    }

    /** The drive's outcome if it ends within the checkout's answer time; a drive that fails is answered from the order. */
    private within(drive: Promise<SagaOutcome>): Promise<SagaOutcome | undefined> {
      return Promise.race([drive.catch(() => undefined), this.process.sleep(CHECKOUT_LIMITS.answerWithinMs).then(() => undefined)]);
    }
  }

  const lives = new Map<SimProcess, OrderLife>();
  const startLife = (p: SimProcess): void => {
    if (orderProcs.includes(p)) lives.set(p, new OrderLife(p));
    else if (p === inventoryProc) inventoryPort = newInventoryPort();
    else if (p === paymentProc) paymentPort = newPaymentPort();
  };
  const orderHandler = (p: SimProcess): OrderLife => {
    const life = lives.get(p);
    if (!life) throw new Error(`${p.name} has no life`);
    return life;
  };

  // The shoppers: each checks out once, retrying on transient faults with the same key, polling a 202.
  const shopperCount = random.int(SIM_WORLD.shoppers.min, SIM_WORLD.shoppers.max);
  for (let index = 0; index < shopperCount; index++) {
    const lines = [...skus]
      .filter((_, i) => i === 0 || random.chance(0.5))
      .map((sku) => ({ sku, quantity: random.int(1, 3) }))
      .sort((a, b) => (a.sku < b.sku ? -1 : 1));
    const token = random.chance(0.7) ? 'tok_visa' : random.pick(['tok_declined', 'tok_insufficient_funds']);
    world.shoppers.push({ index, userId: random.uuid(), key: `key-${index}`, lines, token, answers: [], orderId: undefined, finalStatus: undefined, serverErrors: 0, done: false });
  }

  async function shop(s: Shopper): Promise<void> {
    const body = { lines: s.lines, token: s.token };
    // A shopper whose request is answered may send it again (a double click, a retry after a lost answer).
    const sends = random.chance(0.4) ? 2 : 1;
    for (let send = 0; send < sends; send++) {
      for (;;) {
        const target = random.pick(orderProcs);
        try {
          const answer = await network.call(shopperProc, target, 'checkout', () => orderHandler(target).checkout(s, body));
          record(s, answer);
          break;
        } catch (err) {
          if (isAppError(err) && !isTransientFault(err) && err.status < 500) {
            record(s, { status: err.status, body: toProblem(err) });
            break;
          }
          if (!isTransientFault(err)) s.serverErrors += 1;
          await shopperProc.sleep(random.int(SIM_WORLD.shopperRetryMs.min, SIM_WORLD.shopperRetryMs.max));
        }
      }
    }
    // The same key with another body is refused, never answered with the first order.
    if (random.chance(0.15)) {
      const other = { lines: s.lines, token: s.token === 'tok_visa' ? 'tok_declined' : 'tok_visa' };
      for (;;) {
        const target = random.pick(orderProcs);
        try {
          await network.call(shopperProc, target, 'checkout', () => orderHandler(target).checkout(s, other));
          world.violations.push(`shopper ${s.index}: the same key with another body was answered, not refused`);
          break;
        } catch (err) {
          if (isAppError(err) && err.code === 'IDEMPOTENCY_MISMATCH') break;
          await shopperProc.sleep(random.int(SIM_WORLD.shopperRetryMs.min, SIM_WORLD.shopperRetryMs.max));
        }
      }
    }
    // Poll the order until it is settled (GET /orders/:id, from any instance).
    while (s.orderId !== undefined) {
      const orderId = s.orderId;
      const target = random.pick(orderProcs);
      try {
        const order = await network.call(shopperProc, target, 'get order', () => orderHandler(target).store.get(orderId));
        if (order && order.status !== 'PENDING' && order.status !== 'RESERVED') {
          s.finalStatus = order.status;
          break;
        }
      } catch {
        // transient: poll again
      }
      await shopperProc.sleep(SIM_WORLD.pollMs);
    }
    s.done = true;
  }

  function record(s: Shopper, answer: SimAnswer): void {
    const orderId = orderIdOf(answer.body);
    if (orderId !== undefined) s.orderId ??= orderId;
    s.answers.push(`${answer.status} ${orderId ?? '-'}`);
    rt.trace(`shopper ${s.index} answered ${answer.status} ${orderId?.slice(0, 8) ?? '-'}`);
  }

  // Faults over time: crashes and stops of random processes, restarts after a downtime.
  const servers = [...orderProcs, inventoryProc, paymentProc, cartProc];
  function chaosTick(): void {
    if (world.healed) return;
    for (const p of servers) {
      if (p.alive && random.chance(plan.crashPerSecond / servers.length)) p.crash('at a random instant');
      else if (p.alive && random.chance(plan.stopPerSecond / servers.length)) p.stop(random.int(SIM_WORLD.leaseMs / 2, SIM_WORLD.leaseMs * 2));
    }
    rt.clock.schedule(1_000, chaosTick);
  }
  function restartTick(): void {
    for (const p of servers) {
      if (!p.alive && (world.healed || random.chance(0.5))) {
        p.restart();
        startLife(p);
      }
    }
    rt.clock.schedule(random.int(SIM_WORLD.downtimeMs.min, SIM_WORLD.downtimeMs.max), restartTick);
  }
  function heal(): void {
    world.healed = true;
    rt.trace('heal: no more faults');
    Object.assign(plan.network, { dropRequestRate: 0, dropResponseRate: 0, duplicateRate: 0 });
    Object.assign(plan.db, { faultRate: 0, lostAckRate: 0 });
  }

  return {
    world,
    start() {
      for (const p of servers) startLife(p);
      for (const s of world.shoppers) shopperProc.deliver(random.int(0, 3_000), () => void shop(s));
      rt.clock.schedule(random.int(0, 1_000), chaosTick);
      rt.clock.schedule(SIM_WORLD.downtimeMs.min, restartTick);
      rt.clock.schedule(SIM_WORLD.faultWindowMs, heal);
    },
  };
}

/** 201 final, 202 in progress, or the problem the API names for the order's terminal status (checkout.ts answerFor). */
function answerFor(order: Order): SimAnswer {
  const problem = (code: 'OUT_OF_STOCK' | 'PAYMENT_DECLINED' | 'CONFLICT'): SimAnswer => {
    const err = new AppError(code, `order ${order.status}`, { extras: { order } });
    return { status: err.status, body: toProblem(err) };
  };
  switch (order.status) {
    case 'CONFIRMED':
      return { status: 201, body: order };
    case 'PENDING':
    case 'RESERVED':
      return { status: 202, body: order };
    case 'REJECTED':
      return problem('OUT_OF_STOCK');
    case 'PAYMENT_FAILED':
      return problem('PAYMENT_DECLINED');
    case 'EXPIRED':
    case 'CANCELLED':
      return problem('CONFLICT');
  }
}

function orderIdOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { id?: unknown; order?: { id?: unknown } };
  if (typeof b.id === 'string') return b.id;
  if (typeof b.order?.id === 'string') return b.order.id;
  return undefined;
}

/** The checkout saga with the planted bugs: its real steps, one replaced or wrapped per bug. */
function plantBugs(saga: SagaDefinition<CheckoutInput>, bugs: ReadonlySet<SimBug>): SagaDefinition<CheckoutInput> {
  if (!bugs.has('compensation-keeps-stock') && !bugs.has('transient-declines')) return saga;
  const steps = saga.steps.map((step): SagaStep<CheckoutInput> => {
    if (bugs.has('compensation-keeps-stock') && step.name === 'reserveStock') return defineStep({ ...step, compensate: async () => undefined });
    if (bugs.has('transient-declines') && step.name === 'authorizePayment') {
      return defineStep({
        ...step,
        run: async (ctx) => {
          try {
            return await step.run(ctx);
          } catch (err) {
            if (isTransientFault(err)) ctx.abort('PAYMENT_DECLINED', { declineCode: 'unavailable' });
            throw err;
          }
        },
      });
    }
    return step;
  });
  return { ...saga, steps };
}
