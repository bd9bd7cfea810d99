import { STATUS_LABELS } from '../format';
import type { OrderStatus } from '../types';

export function StatusBadge({ status }: { status: OrderStatus }) {
  return <span className={`badge badge-${status.toLowerCase().replace('_', '-')}`}>{STATUS_LABELS[status] ?? status}</span>;
}
