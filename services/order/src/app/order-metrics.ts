import type { OrderStatus } from '@agora/contracts/order';
import type { Metrics, SagaLogEntry } from '@agora/platform';

export const ORDERS_TOTAL_METRIC = 'agora_orders_total';

/**
 * Steps whose checkpoint commit is the order's change of status (a fused or local step writes the
 * order in the same statement or transaction as its saga checkpoint): counted when that commits.
 */
const STATUS_BY_STEP: Readonly<Record<string, Readonly<Record<string, OrderStatus>>>> = {
  checkout: { confirm: 'CONFIRMED' },
  cancelOrder: { markCancelled: 'CANCELLED' },
};

/**
 * `agora_orders_total{status}`: orders that entered each status (the order row's status changed
 * and committed), so `rate(...{status="CONFIRMED"})` is confirmed checkouts per second. Labels are
 * the seven statuses of the order state machine. A status the order only passed through in its
 * history (RESERVED on the way to CONFIRMED in one commit) is not counted.
 */
export class OrderStatusMetrics {
  private readonly entries: { inc(labels: { status: OrderStatus }): void };

  constructor(metrics: Metrics) {
    this.entries = metrics.counter(ORDERS_TOTAL_METRIC, 'Orders that entered each status, by status', ['status']);
  }

  /** An order's status change committed. */
  entered(status: OrderStatus): void {
    this.entries.inc({ status });
  }

  /** A saga log observer counting the changes that commit with a saga checkpoint. */
  readonly observeSagaLog = (entry: SagaLogEntry): void => {
    const step = entry.step;
    if (!entry.durable || step?.phase !== 'run' || step.status !== 'DONE') return;
    const status = STATUS_BY_STEP[entry.saga]?.[step.name];
    if (status) this.entered(status);
  };
}
