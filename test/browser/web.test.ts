import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { ADMIN } from '../support/system.js';
import { uniqueEmail } from '../support/http.js';
import { PHONE, screenshot, signInWithToken } from './browser.js';
import { ADDRESS, describeInChromium, fillAddress, type Product } from './shop-fixtures.js';

/** A two-instance order service with one instance failing, as the cluster gateway reports it. */
const CLUSTER_VIEW = {
  mode: 'cluster',
  generatedAt: new Date().toISOString(),
  services: [
    {
      name: 'order',
      strategy: 'power-of-two-choices',
      instances: [
        { id: 'order-1', url: 'http://127.0.0.1:7101', zone: 'a', version: '0.1.0', weight: 1, state: 'up', lastHeartbeatAt: new Date().toISOString(), heartbeatAgeMs: 800 },
        { id: 'order-2', url: 'http://127.0.0.1:7102', zone: 'b', version: '0.1.0', weight: 1, state: 'suspect', lastHeartbeatAt: new Date().toISOString(), heartbeatAgeMs: 4200 },
      ],
    },
    { name: 'catalog', strategy: 'round-robin', instances: [{ id: 'catalog-1', url: 'http://127.0.0.1:7201', zone: 'a', version: '0.1.0', weight: 1, state: 'up', lastHeartbeatAt: null, heartbeatAgeMs: 300 }] },
  ],
  breakers: [
    { service: 'order', instanceId: 'order-1', url: 'http://127.0.0.1:7101', state: 'closed', consecutiveFailures: 0 },
    { service: 'order', instanceId: 'order-2', url: 'http://127.0.0.1:7102', state: 'open', consecutiveFailures: 5 },
  ],
  shards: [],
};

/** The storefront's first load must stay under this much JavaScript, gzipped (the budget). */
const FIRST_LOAD_JS_BUDGET = 200 * 1024;

/**
 * The storefront and the admin as people use them: the whole system in process (embedded PGlite,
 * 50 demo products) serving the built web app, driven by Debian's headless Chromium. Screenshots
 * land in test-artifacts/browser/.
 */
describeInChromium('web app in headless Chromium', { demoProducts: 50 }, (shop) => {
  let confirmedOrderId = '';

  /** Shoppers browsing for a while, and one checkout, so the operations charts have something to show. */
  async function generateTraffic(ms: number): Promise<void> {
    const until = Date.now() + ms;
    const session = await shop.registerShopper('Dana Declined');
    const { variant } = await shop.productInStock(1);
    await shop.api.post('/api/v1/cart/items', { sku: variant.sku, quantity: 1 }, { token: session.token });
    const checkout = { payment: { method: 'card', token: 'tok_visa' }, shippingAddress: { name: 'Load', country: 'US', ...ADDRESS } };
    const placed = await shop.api.post('/api/v1/checkout', checkout, { token: session.token, headers: { 'idempotency-key': `ops-${Date.now()}` } });
    expect(placed.status).toBe(201);
    while (Date.now() < until) {
      await Promise.all(Array.from({ length: 5 }, () => shop.api.get('/api/v1/products?limit=5')));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('serves the storefront with under 200 KB of JavaScript (gzipped) on the first load', async () => {
    const { page, problems } = await shop.open();
    const scripts = new Map<string, number>();
    page.on('response', (response) => {
      if (response.request().resourceType() !== 'script') return;
      void response.body().then((body) => scripts.set(response.url(), gzipSync(body, { level: 9 }).length));
    });
    await page.goto('/');
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Shop by category' }).waitFor();
    await page.getByRole('list').filter({ has: page.getByRole('link', { name: /Electronics|Books|Toys/ }) }).first().waitFor();
    await page.waitForLoadState('networkidle');
    const total = [...scripts.values()].reduce((a, b) => a + b, 0);
    console.info(`storefront first load: ${scripts.size} scripts, ${(total / 1024).toFixed(1)} KB gzipped`);
    expect(scripts.size).toBeGreaterThan(0);
    expect(total).toBeLessThan(FIRST_LOAD_JS_BUDGET);
    await screenshot(page, 'home');

    // The first Tab reaches the skip link, which leads past the header.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Skip to content');
    expect(problems).toEqual([]);
  });

  it('lets a shopper register, search as they type, add to cart and check out with tok_visa', async () => {
    const { product, variant } = await shop.productInStock(3);
    const { page, problems } = await shop.open();
    await page.goto('/');

    await page.getByRole('link', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    // In-app navigation moves focus to the new page's heading.
    expect(await page.evaluate('document.activeElement && document.activeElement.tagName')).toBe('H1');
    // Field errors from the form sit next to their fields.
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Use at least 8 characters.').waitFor();
    await page.getByLabel('Name').fill('Sam Shopper');
    await page.getByLabel('E-mail').fill(uniqueEmail());
    await page.getByLabel('Password').fill('correct horse');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('button', { name: /Sign out/ }).waitFor();

    // Results as you type: no submit, the list follows the query.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Browse' }).click();
    await page.getByRole('heading', { name: 'Search products' }).waitFor();
    await page.getByRole('searchbox', { name: 'Search products' }).pressSequentially(product.name, { delay: 15 });
    const result = page.getByRole('link', { name: product.name, exact: true });
    await result.waitFor();
    await page.waitForURL(/\/search\?q=/);
    await screenshot(page, 'search');
    await result.click();

    await page.getByRole('heading', { level: 1, name: product.name }).waitFor();
    // Focus followed the navigation to the product's heading, past its loading state.
    expect(await page.evaluate('document.activeElement && document.activeElement.textContent')).toBe(product.name);
    if (product.variants.length > 1) await page.getByRole('radio', { name: new RegExp(variant.title) }).check();
    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByText('Added to your cart').waitFor();
    await page.getByRole('link', { name: /Cart\s*2 items/ }).waitFor();
    await screenshot(page, 'product');

    await page.getByRole('link', { name: /Cart\s*2 items/ }).click();
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    await page.getByRole('list', { name: 'Items in your cart' }).getByRole('link', { name: product.name }).waitFor();
    // Changing a quantity saves it and updates the subtotal and the header count.
    const quantity = page.getByRole('spinbutton', { name: /Quantity of/ });
    await quantity.fill('3');
    await page.getByText('Subtotal (3 items)').waitFor();
    await page.getByRole('link', { name: /Cart\s*3 items/ }).waitFor();
    await quantity.fill('2');
    await quantity.press('Enter');
    await page.getByText('Subtotal (2 items)').waitFor();
    await screenshot(page, 'cart');
    await page.getByRole('link', { name: 'Check out' }).click();

    await page.getByRole('heading', { name: 'Checkout' }).waitFor();
    await fillAddress(page);
    await page.getByRole('radio', { name: /Visa ending 4242/ }).check();
    await screenshot(page, 'checkout');
    await page.getByRole('button', { name: /Place order/ }).click();

    await page.waitForURL(/\/orders\/[0-9a-f-]{36}\?placed=1$/);
    await page.getByText('Thank you! Your order is confirmed.').waitFor();
    const history = page.getByRole('list').filter({ has: page.locator('time') });
    await history.getByText('Confirmed').waitFor();
    expect(await history.getByText('Pending').count()).toBe(1);
    confirmedOrderId = /\/orders\/([0-9a-f-]{36})/.exec(page.url())?.[1] ?? '';
    await screenshot(page, 'order-confirmed');
    await page.getByRole('link', { name: /Cart\s*0 items/ }).waitFor();

    await page.getByRole('link', { name: 'Orders', exact: true }).click();
    await page.getByRole('heading', { name: 'Your orders' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'Confirmed' }).first().waitFor();
    expect(problems).toEqual([]);
  });

  it('shows a declined card clearly and keeps the cart', async () => {
    const session = await shop.registerShopper('Dana Declined');
    const { variant } = await shop.productInStock(2);
    const add = await shop.api.post('/api/v1/cart/items', { sku: variant.sku, quantity: 1 }, { token: session.token });
    expect(add.status).toBe(200);
    const { page, context, problems } = await shop.open();
    await signInWithToken(context, session);

    await page.goto('/checkout');
    await page.getByRole('heading', { name: 'Checkout' }).waitFor();
    // Bad input is named next to its field before anything is sent.
    await page.getByRole('button', { name: /Place order/ }).click();
    await page.getByText('Enter your street address.').waitFor();
    await fillAddress(page);
    await page.getByRole('radio', { name: /declined/ }).first().check();
    await page.getByRole('button', { name: /Place order/ }).click();

    const alert = page.getByRole('alert').filter({ hasText: 'Payment declined' });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/declined/i);
    await page.getByRole('link', { name: 'See the failed order' }).waitFor();
    await screenshot(page, 'checkout-declined');

    const cart = await shop.api.get<{ itemCount: number }>('/api/v1/cart', { token: session.token });
    expect(cart.body.itemCount).toBe(1);
    await page.getByRole('link', { name: 'See the failed order' }).click();
    await page.getByRole('heading', { name: /Order #/ }).waitFor();
    await page.getByText('payment declined', { exact: false }).first().waitFor();
    expect(await page.getByRole('button', { name: 'Cancel order' }).count()).toBe(0);

    // Another card works (a new attempt, not a replay of the declined one); then the shopper cancels.
    await page.goBack();
    await page.getByRole('heading', { name: 'Checkout' }).waitFor();
    await fillAddress(page);
    await page.getByRole('radio', { name: /Visa ending 4242/ }).check();
    await page.getByRole('button', { name: /Place order/ }).click();
    await page.getByText('Thank you! Your order is confirmed.').waitFor();
    await page.getByRole('button', { name: 'Cancel order' }).click();
    await page.getByRole('button', { name: 'Yes, cancel order' }).click();
    await page.getByText('Cancelled', { exact: true }).first().waitFor();
    await page.getByRole('list').filter({ has: page.locator('time') }).getByText('Cancelled', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Cancel order' }).count()).toBe(0);
    await screenshot(page, 'order-cancelled');
    expect(problems).toEqual([]);
  });

  it('lets an admin create a product, set its stock and watch operations', async () => {
    const { page, problems } = await shop.open();
    await page.goto('/admin/products');
    // Signed out: the admin area asks for a login and comes back.
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('E-mail').fill(ADMIN.email);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Products' }).waitFor();
    await page.getByRole('navigation', { name: 'Admin' }).getByText('Flash sales').waitFor();

    await page.getByRole('link', { name: 'New product' }).click();
    await page.getByRole('heading', { name: 'New product' }).waitFor();
    const sku = `BRW-${Date.now().toString(36).toUpperCase()}`;
    const name = `Browser Test Lamp ${sku}`;
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('Description').fill('Made by the browser test.');
    await page.getByLabel('Category', { exact: true }).selectOption({ label: 'New category…' });
    await page.getByLabel('New category').fill('office');
    await page.getByLabel('SKU (variant 1)').fill(sku);
    await page.getByLabel('Title (variant 1)').fill('Standard');
    await page.getByLabel(/Price in USD \(variant 1\)/).fill('12.5');
    await page.getByRole('button', { name: 'Create product' }).click();

    await page.waitForURL(/\/admin\/products\/[0-9a-f-]{36}\?created=1$/);
    await page.getByText('Product created.').waitFor();
    await page.getByLabel(/On hand/).fill('25');
    await page.getByRole('button', { name: /Set stock/ }).click();
    await page.getByText('Saved: 25 on hand, 0 reserved, 25 available.').waitFor();
    await screenshot(page, 'admin-product-stock');

    const stock = await shop.api.get<{ available: number }>(`/api/v1/inventory/${sku}`);
    expect(stock.body.available).toBe(25);
    const productId = /\/admin\/products\/([0-9a-f-]{36})/.exec(page.url())?.[1];
    const product = await shop.api.get<Product>(`/api/v1/products/${productId}`);
    expect(product.body).toMatchObject({ name, category: 'office', variants: [{ sku, title: 'Standard', price: { amount: 1250, currency: 'USD' } }] });

    // A field error from the API lands next to its field: the same SKU again is a conflict.
    await page.getByRole('link', { name: 'All products' }).click();
    await page.getByRole('link', { name: 'New product' }).click();
    await page.getByLabel('Name').fill('Duplicate');
    await page.getByLabel('Category', { exact: true }).selectOption({ label: 'New category…' });
    await page.getByLabel('New category').fill('office');
    await page.getByLabel('SKU (variant 1)').fill(sku);
    await page.getByLabel('Title (variant 1)').fill('Standard');
    await page.getByLabel(/Price in USD \(variant 1\)/).fill('1.00');
    await page.getByRole('button', { name: 'Create product' }).click();
    const skuField = page.getByLabel('SKU (variant 1)');
    await page.getByText(`SKU ${sku} is taken`).waitFor();
    expect(await skuField.getAttribute('aria-invalid')).toBe('true');

    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Orders' }).click();
    await page.getByRole('heading', { name: 'Orders' }).waitFor();
    await page.getByLabel('Status').selectOption('CONFIRMED');
    await page.waitForURL(/status=CONFIRMED/);
    if (confirmedOrderId) await page.getByRole('link', { name: new RegExp(confirmedOrderId.slice(-8).toUpperCase()) }).waitFor();
    await screenshot(page, 'admin-orders');

    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Operations' }).click();
    await page.getByRole('heading', { name: 'Operations' }).waitFor();
    await page.getByText(/Single-process mode: \d+ services in this one process\./).waitFor();
    // Two scrapes make the first point of every chart; traffic meanwhile shows up as a rate.
    await page.getByRole('img', { name: /Request rate: All requests [0-9.]+ req\/s/ }).waitFor({ timeout: 20_000 });
    const traffic = generateTraffic(8_000);
    await page.getByRole('img', { name: /Request rate: All requests [1-9][0-9.]* req\/s/ }).waitFor({ timeout: 20_000 });
    await traffic;
    await page.getByRole('img', { name: /Latency at the gateway: p99 [0-9.]+ ms/ }).waitFor();
    await screenshot(page, 'admin-operations');

    // In a cluster the same page lists instances and breakers (the view of /api/v1/admin/cluster,
    // stood in for here: this system is one process).
    await page.route('**/api/v1/admin/cluster', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(CLUSTER_VIEW) }));
    await page.getByRole('button', { name: 'Check again' }).click();
    const instances = page.getByRole('table', { name: 'Instances per service' });
    await instances.getByRole('row').filter({ hasText: 'order-2' }).filter({ hasText: 'suspect' }).waitFor();
    await instances.getByText('4.2 s').waitFor();
    await page.getByRole('table', { name: 'Circuit breakers' }).getByRole('row').filter({ hasText: 'open' }).waitFor();
    await screenshot(page, 'admin-operations-cluster');
    expect(problems).toEqual([]);
  });

  it('fits a 375 px phone screen without sideways scrolling', async () => {
    const { product, variant } = await shop.productInStock(1);
    const { page, problems } = await shop.open(PHONE);
    const overflow = () => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth') as Promise<number>;
    await page.goto('/');
    await page.getByRole('heading', { name: 'Shop by category' }).waitFor();
    await page.getByRole('link', { name: /Electronics/ }).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, 'phone-home');

    await page.goto(`/products/${product.id}`);
    await page.getByRole('heading', { level: 1, name: product.name }).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, 'phone-product');

    const session = await shop.registerShopper('Dana Declined');
    await shop.api.post('/api/v1/cart/items', { sku: variant.sku, quantity: 1 }, { token: session.token });
    await signInWithToken(page.context(), session);
    await page.goto('/checkout');
    await page.getByRole('heading', { name: 'Checkout' }).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await screenshot(page, 'phone-checkout');
    expect(problems).toEqual([]);
  });
});
