import { asyncScenarios, crashLane } from './checkout-crash-scenarios.js';

/**
 * The checkout saga with an asynchronous payment (tok_async: PENDING, then the sandbox's webhook)
 * killed at every step, while WAITING for the payment and when the settled payment resumes it.
 * See checkout-crash-scenarios.ts.
 */
await crashLane('async', asyncScenarios);
