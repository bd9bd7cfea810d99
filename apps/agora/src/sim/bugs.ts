/**
 * Bugs the simulation can plant in the system it runs, to prove its invariants catch them
 * (test/sim: each is found within a bounded number of seeds). None is ever on by default.
 */
export const SIM_BUGS = {
  /** The reserveStock step's compensation does nothing: a failed checkout keeps its stock held. */
  'compensation-keeps-stock': 'the reserveStock compensation forgets to release the reservation',
  /** The payment model captures again when asked again: a replayed capture charges twice. */
  'capture-not-idempotent': 'a capture asked twice is captured twice at the provider',
  /** The authorizePayment step turns a transient fault into a decline: an outage decides the order. */
  'transient-declines': 'the authorizePayment step treats a transient fault as a payment decline',
  /** Inventory reserves without the guard `on_hand - reserved >= q`: stock can be oversold. */
  'no-stock-guard': 'inventory reserves without checking the units available',
} as const;

export type SimBug = keyof typeof SIM_BUGS;

export function isSimBug(name: string): name is SimBug {
  return Object.hasOwn(SIM_BUGS, name);
}
