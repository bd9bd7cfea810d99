import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { pgliteBackend } from '@agora/platform/testing';
import { startSystem, type RunningSystem } from '../support/system.js';
import { CHROMIUM, buildWebApp, chromiumAvailable, chromiumRequiredButMissing, launchChromium, screenshot, signInWithToken } from './browser.js';
import { Shop, fillAddress } from './shop-fixtures.js';

/**
 * The sandbox settles a `tok_async` payment this long after checkout answered 202: long enough that
 * the cart read right after checkout still holds the lines (they leave it once the payment settles).
 */
const ASYNC_SETTLE_MS = 1_500;
const ORDER_URL = /\/orders\/[0-9a-f-]{36}\?placed=1$/;
const ORDER_READ = /\/api\/v1\/orders\/[0-9a-f-]{36}$/;

if (chromiumRequiredButMissing()) {
  describe('storefront in headless Chromium', () => {
    it('needs Chromium', () => {
      throw new Error(`AGORA_REQUIRE_SERVICES=1 but ${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    });
  });
}

/**
 * What a shopper sees at the edges of the storefront (issue 14): payments that settle later,
 * declines, stock running short, limits, keyboard focus, going back, narrow phones.
 */
describe.runIf(chromiumAvailable())('storefront in headless Chromium', () => {
  let system: RunningSystem;
  let browser: Browser;
  let shop: Shop;

  beforeAll(async () => {
    const webRoot = buildWebApp();
    system = await startSystem(pgliteBackend, { demoProducts: 50, webRoot, env: { AGORA_PAYMENT_SANDBOX_ASYNC_DELAY_MS: String(ASYNC_SETTLE_MS) } });
    browser = await launchChromium();
    shop = new Shop(system, browser);
  });

  afterAll(async () => {
    await shop?.close();
    await browser?.close();
    await system?.stop();
  });

  it('shows a tok_async order waiting for its payment, then settling, and the header cart empties', async () => {
    const { variant } = await shop.productInStock(2);
    const session = await shop.shopperWithCart(variant.sku, 1);
    const { page, context, problems } = await shop.open();
    await signInWithToken(context, session);
    // The order page's own reads of the order wait until the test has seen the pending state: it
    // must show from what checkout answered, however fast the payment settles.
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route(ORDER_READ, async (route) => {
      await held;
      await route.continue();
    });

    await page.goto('/checkout');
    await page.getByRole('heading', { name: 'Checkout' }).waitFor();
    await fillAddress(page);
    await page.getByRole('radio', { name: /ending 3220/ }).check();
    await page.getByRole('button', { name: /Place order/ }).click();
    await page.waitForURL(ORDER_URL);
    await page.getByText('Payment pending: your items are reserved.').waitFor();
    expect(await page.getByText('Thank you! Your order is confirmed.').count()).toBe(0);
    await page.getByRole('link', { name: /Cart\s*1 item$/ }).waitFor();
    await screenshot(page, 'order-async-pending');

    release();
    await page.getByText('Payment received. Your order is confirmed.').waitFor();
    await page.getByRole('list').filter({ has: page.locator('time') }).getByText('Confirmed').waitFor();
    expect(await page.getByText('Payment pending: your items are reserved.').count()).toBe(0);
    // The settled payment took the lines out of the cart: the header says so without a reload.
    await page.getByRole('link', { name: /Cart\s*0 items/ }).waitFor();
    const cart = await shop.api.get<{ itemCount: number }>('/api/v1/cart', { token: session.token });
    expect(cart.body.itemCount).toBe(0);
    await screenshot(page, 'order-async-settled');
    expect(problems).toEqual([]);
  });
  it('says a card was declined once, with the reason, and the failed order offers to try again with the cart', async () => {
    const { product, variant } = await shop.productInStock(2);
    const session = await shop.shopperWithCart(variant.sku, 2);
    const { page, context, problems } = await shop.open();
    await signInWithToken(context, session);

    await page.goto('/checkout');
    await page.getByRole('heading', { name: 'Checkout' }).waitFor();
    await fillAddress(page);
    await page.getByRole('radio', { name: /ending 0002/ }).check();
    await page.getByRole('button', { name: /Place order/ }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Payment declined' });
    await alert.waitFor();
    const text = (await alert.textContent()) ?? '';
    expect(text.match(/payment declined/gi)).toHaveLength(1);
    expect(text).toContain('The bank that issued the card refused the payment.');
    await screenshot(page, 'checkout-declined-once');

    // Meanwhile the shopper emptied the cart; "Try again" on the failed order puts its lines back.
    expect((await shop.api.delete(`/api/v1/cart/items/${variant.sku}`, { token: session.token })).status).toBe(200);
    await page.getByRole('link', { name: 'See the failed order' }).click();
    await page.getByRole('heading', { name: /Order #/ }).waitFor();
    const failed = page.getByRole('alert').filter({ hasText: 'The payment did not go through.' });
    await failed.getByText('The bank that issued the card refused the payment.').waitFor();
    await failed.getByRole('button', { name: 'Try again' }).click();
    await page.waitForURL(/\/checkout$/);
    await page.getByRole('heading', { name: 'Checkout' }).waitFor();
    const summary = page.getByRole('complementary', { name: 'Order summary' });
    await summary.getByText(`2 × ${product.name}`).waitFor();
    await page.getByRole('link', { name: /Cart\s*2 items/ }).waitFor();
    expect(problems).toEqual([]);
  });
});
