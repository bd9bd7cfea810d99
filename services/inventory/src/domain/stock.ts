import { AppError } from '@agora/kernel';

export interface StockLevel {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
}

export function stockLevel(sku: string, onHand: number, reserved: number): StockLevel {
  return { sku, onHand, reserved, available: onHand - reserved };
}

/** Setting on-hand below what is already promised to buyers would break a reservation. */
export function assertCanSetOnHand(sku: string, onHand: number, reserved: number): void {
  if (onHand < reserved) {
    throw new AppError('CONFLICT', `${sku} has ${reserved} units reserved; on hand cannot go below that`, {
      errors: [{ path: 'onHand', message: `must be >= ${reserved} (units reserved by open orders)` }],
    });
  }
}
