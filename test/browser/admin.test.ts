import { expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { screenshot } from './browser.js';
import type { ShardOverview } from '@agora/contracts';
import { describeInChromium } from './shop-fixtures.js';

/** The admin pages where what was just saved must show at once, and mistakes are caught (issue 14). */
describeInChromium('admin pages in headless Chromium', { demoProducts: 20 }, (shop) => {
  /** The text of the admin product table's row for `name`. */
  const productRow = (page: Page, name: string) => page.getByRole('table').getByRole('row').filter({ hasText: name });

  it('shows a saved stock level everywhere at once and starts each on-hand field from what is on hand', async () => {
    const name = `Stock Panel Desk ${Date.now().toString(36)}`;
    const { product, sku } = await shop.createProduct(name, undefined);
    const { page, problems } = await shop.openAsAdmin();

    await page.goto('/admin/products');
    await productRow(page, name).getByText(`${sku} · 0`).waitFor();

    await page.goto('/admin/stock');
    await page.getByRole('heading', { name: 'Stock', exact: true }).waitFor();
    await page.getByLabel('Go to a SKU').fill(sku);
    await page.getByRole('button', { name: 'Look up' }).click();
    const panel = page.locator('.stock-lookup');
    await panel.getByText(`${sku}: no stock recorded yet`).waitFor();
    await panel.getByText('No stock recorded yet.').waitFor();
    const onHand = panel.getByLabel(/On hand/);
    await onHand.fill('25');
    await panel.getByRole('button', { name: /Set stock/ }).click();
    await panel.getByText('Saved: 25 on hand, 0 reserved, 25 available.').waitFor();
    await panel.getByText(`${sku}: 25 available`).waitFor();
    expect(await panel.getByText('no stock recorded yet').count()).toBe(0);
    expect(await onHand.inputValue()).toBe('25');
    // The same SKU further down, under its product, shows the save too.
    await page.getByLabel('Find products').fill(name);
    const listed = page.locator('.stock-products .stock-list > li').filter({ hasText: sku });
    await listed.getByText('Saved: 25 on hand, 0 reserved, 25 available.').waitFor();
    expect(await listed.getByLabel(/On hand/).inputValue()).toBe('25');
    await screenshot(page, 'admin-stock-saved');

    // The product list, straight after, shows the saved level (not catalog's cached 0).
    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Products' }).click();
    await productRow(page, name).getByText(`${sku} · 25`).waitFor();

    // Opening the product, its on-hand field starts from the 25 on hand; someone reserves 2 meanwhile.
    const shopper = await shop.shopperWithCart(sku, 2);
    const checkout = { payment: { method: 'card', token: 'tok_visa' }, shippingAddress: { name: 'Res', country: 'US', line1: '1 A St', city: 'B', postalCode: '1' } };
    expect((await shop.api.post('/api/v1/checkout', checkout, { token: shopper.token, headers: { 'idempotency-key': `stock-${sku}` } })).status).toBe(201);
    await page.goto(`/admin/products/${product.id}`);
    await page.getByText('23 on hand, 0 reserved, 23 available.').waitFor();
    expect(await page.getByLabel(/On hand/).inputValue()).toBe('23');
    expect(problems).toEqual([]);
  });
  it('counts asynchronously paid checkouts as confirmed and describes single-process mode as what the table shows', async () => {
    const { page, problems } = await shop.openAsAdmin();
    // Metrics as a gateway of a cluster exports them (no order counter): 2 checkouts answered 201,
    // 3 answered 202 (tok_async, paid a moment later).
    const metrics = [
      'agora_http_requests_total{service="gateway",method="POST",route="/api/v1/checkout",status="201"} 2',
      'agora_http_requests_total{service="gateway",method="POST",route="/api/v1/checkout",status="202"} 3',
      'agora_http_requests_total{service="gateway",method="POST",route="/api/v1/checkout",status="402"} 1',
      '',
    ].join('\n');
    await page.route(/\/metrics$/, (route) => route.fulfill({ status: 200, contentType: 'text/plain; version=0.0.4', body: metrics }));
    await page.goto('/admin/operations');
    await page.getByRole('heading', { name: 'Operations' }).waitFor();
    const confirmed = page.locator('.stat').filter({ hasText: 'Checkouts confirmed' }).locator('dd');
    await confirmed.getByText('(3 of them paid later: 202)').waitFor();
    expect(await confirmed.textContent()).toBe('5 (3 of them paid later: 202)');
    expect(await page.locator('.stat').filter({ hasText: 'Checkouts failed' }).locator('dd').textContent()).toBe('1');

    // `agora start`-style system: the cluster view lists its 6 services, one in-process instance each.
    const instances = page.getByRole('table', { name: 'Instances per service' });
    await instances.waitFor();
    const rows = instances.locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(6);
    expect(await rows.filter({ hasText: 'up' }).count()).toBe(6);
    const note = page.getByRole('status').filter({ hasText: 'Single-process mode' });
    await note.getByText('Single-process mode: 6 services in this one process.').waitFor();
    expect(await note.textContent()).not.toContain('no instances to');
    await screenshot(page, 'admin-operations-single');
    expect(problems).toEqual([]);
  });
  it('warns before creating a product priced at $0.00 and creates it only when asked again', async () => {
    const { page, problems } = await shop.openAsAdmin();
    const sku = `FREE-${Date.now().toString(36).toUpperCase()}`;
    await page.goto('/admin/products/new');
    await page.getByRole('heading', { name: 'New product' }).waitFor();
    await page.getByLabel('Name').fill(`Free Sample ${sku}`);
    await page.getByLabel('Category', { exact: true }).selectOption({ label: 'New category…' });
    await page.getByLabel('New category').fill('office');
    await page.getByLabel('SKU (variant 1)').fill(sku);
    await page.getByLabel('Title (variant 1)').fill('Standard');
    await page.getByLabel(/Price in USD \(variant 1\)/).fill('0.00');
    await page.getByText('Free: a price of 0.00 gives this variant away.').waitFor();
    await page.getByRole('button', { name: 'Create product' }).click();
    await page.getByText('A variant is priced at 0.00: shoppers would get it for free.').waitFor();
    await screenshot(page, 'admin-free-price-warning');
    expect(page.url()).toMatch(/\/admin\/products\/new$/);
    const search = await shop.api.get<{ items: unknown[] }>(`/api/v1/products?q=${sku}`);
    expect(search.body.items).toHaveLength(0);

    // A real price clears the warning; back to 0.00 it warns again; then a second press confirms.
    await page.getByLabel(/Price in USD \(variant 1\)/).fill('2.00');
    expect(await page.getByText('shoppers would get it for free').count()).toBe(0);
    await page.getByLabel(/Price in USD \(variant 1\)/).fill('0');
    await page.getByRole('button', { name: 'Create product' }).click();
    await page.getByText('A variant is priced at 0.00: shoppers would get it for free.').waitFor();
    await page.getByRole('button', { name: 'Create product' }).click();
    await page.waitForURL(/\/admin\/products\/[0-9a-f-]{36}\?created=1$/);
    await page.getByText('Product created.').waitFor();
    expect(problems).toEqual([]);
  });
  it('names the customer of each order in the admin order list and filters by that name', async () => {
    const { variant } = await shop.productInStock(1);
    const shopper = await shop.registerShopper(`Morgan Ordering ${Date.now().toString(36)}`);
    expect((await shop.api.post('/api/v1/cart/items', { sku: variant.sku, quantity: 1 }, { token: shopper.token })).status).toBe(200);
    const checkout = { payment: { method: 'card', token: 'tok_visa' }, shippingAddress: { name: 'Morgan', country: 'US', line1: '1 A St', city: 'B', postalCode: '1' } };
    const placed = await shop.api.post<{ id: string }>('/api/v1/checkout', checkout, { token: shopper.token, headers: { 'idempotency-key': `named-${shopper.user.id}` } });
    expect(placed.status).toBe(201);
    const { page, problems } = await shop.openAsAdmin();

    await page.goto('/admin/orders');
    await page.getByRole('heading', { name: 'Orders', exact: true }).waitFor();
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: new RegExp(placed.body.id.slice(-8).toUpperCase()) }) });
    await row.getByText(shopper.user.name).waitFor();
    await row.getByText(shopper.user.email).waitFor();
    await page.getByLabel('Order, customer or SKU').fill(shopper.user.name.split(' ').at(-1) ?? '');
    await page.getByText('1 order', { exact: true }).waitFor();
    await screenshot(page, 'admin-orders-customers');
    expect(problems).toEqual([]);
  });

  it("shows one order's customer by name and e-mail, and a flash-sale order's wait for payment in an operator's words, without Pay", async () => {
    const { sku } = await shop.createProduct(`Flash Stool ${Date.now().toString(36)}`, 3, 2000);
    const sale = await shop.createFlashSale(sku, 1, 900);
    const buyer = await shop.registerShopper(`Riley Reserving ${Date.now().toString(36)}`);
    const order = await shop.flashSaleOrder(sale.id, buyer);
    const { page, problems } = await shop.openAsAdmin();

    await page.goto(`/admin/orders/${order.id}`);
    await page.getByRole('heading', { name: `Order #${order.id.slice(-8).toUpperCase()}` }).waitFor();
    const customer = page.locator('.order-customer');
    await customer.getByText(buyer.user.name, { exact: true }).waitFor();
    await customer.getByRole('link', { name: buyer.user.email }).waitFor();
    const waiting = page.locator('.alert').filter({ hasText: "Awaiting the customer's payment (flash sale)." });
    await waiting.getByText(/^The customer can pay it from their order page until .+ \((14 min( \d+ s)?|15 min) left\)\. Unpaid by then, it expires/).waitFor();
    // Nothing is addressed to the shopper: no card, no Pay, no "your".
    expect(await page.getByRole('button', { name: /^Pay / }).count()).toBe(0);
    expect(await page.getByRole('region', { name: 'Awaiting payment' }).count()).toBe(0);
    expect(await page.getByText(/\byour\b/i).count()).toBe(0);
    await screenshot(page, 'admin-order-awaiting-payment');
    expect(problems).toEqual([]);
  });

  it('shows each shard of orders and carts with its share of the ring and what it holds, and follows a running move until it is done', async () => {
    const { variant } = await shop.productInStock(1);
    await shop.shopperWithCart(variant.sku, 1);
    const overview = await shop.api.get<ShardOverview>('/api/v1/admin/shards', { token: await shop.adminToken() });
    expect(overview.status).toBe(200);
    const carts = overview.body.services.find((s) => s.service === 'cart');
    expect(carts?.members).toEqual([expect.objectContaining({ id: 's0', where: 'main database', share: 1, error: null })]);
    expect(carts?.members[0]?.rows).toBeGreaterThanOrEqual(1);

    const { page, problems } = await shop.openAsAdmin();
    await page.goto('/admin/shards');
    const cartTable = page.getByRole('table', { name: 'Shards of cart' });
    const row = cartTable.getByRole('row').filter({ hasText: 'main database' });
    await row.waitFor();
    expect((await row.getByRole('cell').allTextContents()).slice(0, 3)).toEqual(['s0', 'main database', '100.0 % (weight 1)']);
    await page.getByRole('img', { name: 'Hash ring of order: s0 100.0 %' }).waitFor();

    // A cluster's view (stood in for: this system has one database): two shards, a move running,
    // then done — the page follows it without a click.
    const member = (id: string, share: number, shoppers: number) => ({ id, where: `db:5432/agora_order_${id}`, weight: 1, share, range: null, shoppers, rows: shoppers * 3, error: null });
    const view = (move: ShardOverview['services'][number]['move']): ShardOverview => ({
      generatedAt: new Date().toISOString(),
      services: [{ service: 'order', counted: 'orders', version: 2, strategy: 'hash', createdAt: new Date().toISOString(), members: [member('s0', 0.4978, 10), member('s1', 0.5022, 12)], move }],
    });
    const at = new Date().toISOString();
    const answers = [
      view({ fromVersion: 1, toVersion: 2, phase: 'catch-up', outcome: 'running', detail: { keys: 12 }, startedAt: at, updatedAt: at }),
      view({ fromVersion: 1, toVersion: 2, phase: 'clean-up', outcome: 'done', detail: { movedKeys: 12, copiedRows: 40, frozenMs: 85 }, startedAt: at, updatedAt: at }),
    ];
    let served = 0;
    await page.route('**/api/v1/admin/shards', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answers[Math.min(served++, answers.length - 1)]) }));
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('status').filter({ hasText: 'Move version 1 → 2 running: catch-up (12 shoppers frozen)' }).waitFor();
    await page.getByRole('img', { name: 'Hash ring of order: s0 49.8 %, s1 50.2 %' }).waitFor();
    const s1 = page.getByRole('table', { name: 'Shards of order' }).getByRole('row').filter({ hasText: 'agora_order_s1' });
    expect(await s1.getByRole('cell').allTextContents()).toEqual(['s1', 'db:5432/agora_order_s1', '50.2 % (weight 1)', '12', '36']);
    await screenshot(page, 'admin-shards-moving');
    await page.getByRole('status').filter({ hasText: '12 shoppers moved, 40 rows copied, their writes held for 85 ms' }).waitFor({ timeout: 10_000 });
    expect(problems).toEqual([]);
  });
});
