import { captureFailsScenarios, crashLane } from './checkout-crash-scenarios.js';

/**
 * The checkout saga killed inside its compensations: a card whose capture the provider refuses
 * (tok_capture_fails) makes it restock, void and release after the stock was committed; killed at
 * the failure and before and after each of those, restarted, every order must end PAYMENT_FAILED
 * with the stock back and the authorization voided. See checkout-crash-scenarios.ts.
 */
await crashLane('capturefails', captureFailsScenarios);
