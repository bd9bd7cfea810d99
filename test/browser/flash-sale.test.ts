import { expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { PHONE, screenshot } from './browser.js';
import { describeInChromium, sidewaysOverflow, type OrderSummary } from './shop-fixtures.js';

/** The sale page's links as the admin's table and its "created" notice give them. */
const SALE_PATH = /^\/flash-sales\/[0-9a-f-]{36}$/;
/** A payment window a test can wait out. */
const SHORT_WINDOW_SECONDS = 4;
/** How far behind the server a browser's clock is set, so it still offers Pay past the deadline. */
const CLOCK_BEHIND_MS = 10 * 60_000;

interface AdminSale {
  id: string;
  sku: string;
  paymentWindowSeconds?: number;
  remaining: number;
  paid: number;
}

/** A flash sale from end to end in the browser (issue 10): the admin creates it, shoppers buy and pay. */
describeInChromium('flash sales in headless Chromium', { demoProducts: 5 }, (shop) => {
  /** Fills the admin's create-sale form; `paymentWindow` is what goes in its minutes field ('' leaves the default). */
  async function fillSaleForm(page: Page, sale: { sku: string; units: number; price: string; perBuyer: number; paymentWindow: string }): Promise<void> {
    await page.getByLabel('SKU').fill(sale.sku);
    await page.getByLabel('Units (set aside from stock)').fill(String(sale.units));
    await page.getByLabel('Sale price (USD)').fill(sale.price);
    await page.getByLabel('Per buyer at most').fill(String(sale.perBuyer));
    await page.getByLabel('Payment window (minutes, optional)').fill(sale.paymentWindow);
  }

  async function adminSale(sku: string): Promise<AdminSale | undefined> {
    const list = await shop.api.get<{ items: AdminSale[] }>('/api/v1/admin/flash-sales', { token: await shop.adminToken() });
    expect(list.status).toBe(200);
    return list.body.items.find((s) => s.sku === sku);
  }

  /** The sale page's count line, e.g. "2 of 3 left · On now". */
  const remainingLine = (page: Page) => page.locator('.flash-remaining').textContent();

  const saleRow = (page: Page, sku: string) => page.getByRole('table').getByRole('row').filter({ hasText: sku });

  it('an admin creates a sale with a 15-minute payment window; a shopper buys, pays with tok_visa and is held to the per-buyer limit', async () => {
    const { sku } = await shop.createProduct(`Flash Lamp ${Date.now().toString(36)}`, 10, 1200);
    const admin = await shop.openAsAdmin();
    await admin.page.goto('/admin/flash-sales');
    await admin.page.getByRole('heading', { name: 'Flash sales' }).waitFor();

    // A window over a week is caught on the form: no sale is created.
    await fillSaleForm(admin.page, { sku, units: 3, price: '4.50', perBuyer: 1, paymentWindow: '20000' });
    await admin.page.getByRole('button', { name: 'Create sale' }).click();
    await admin.page.getByRole('alert').getByText(/Type minutes, at most 7 days \(10080\)/).waitFor();
    expect(await adminSale(sku)).toBeUndefined();

    await admin.page.getByLabel('Payment window (minutes, optional)').fill('15');
    await admin.page.getByRole('button', { name: 'Create sale' }).click();
    const created = admin.page.getByRole('status').filter({ hasText: 'Sale created' });
    await created.getByText(`Sale created: 3 × ${sku}, payment window 15 min.`).waitFor();
    const row = saleRow(admin.page, sku);
    await row.getByRole('cell', { name: '15 min', exact: true }).waitFor();
    await row.getByRole('cell', { name: '3 / 3', exact: true }).waitFor();
    const sale = await adminSale(sku);
    expect(sale?.paymentWindowSeconds).toBe(900);
    const salePath = await created.getByRole('link', { name: 'Open the sale page' }).getAttribute('href');
    expect(salePath).toMatch(SALE_PATH);
    expect(salePath).toBe(`/flash-sales/${sale?.id}`);
    await screenshot(admin.page, 'flash-sale-admin-created');

    const shopper = await shop.registerShopper('Flash Buyer');
    const { page, problems } = await shop.openSignedIn(shopper);
    await page.goto(salePath ?? '');
    await page.getByRole('heading', { name: `Flash sale: ${sku}` }).waitFor();
    await expect.poll(() => remainingLine(page)).toBe('3 of 3 left · On now');
    await page.getByText('$4.50', { exact: true }).waitFor();

    await page.getByRole('button', { name: 'Buy now' }).click();
    const awaiting = page.getByRole('status').filter({ hasText: 'is awaiting payment' });
    await awaiting.getByText(new RegExp(`^Order [0-9A-F]{8} is awaiting payment: \\$4\\.50 for 1 × ${sku}\\.$`)).waitFor();
    await awaiting.getByText(/^Pay by .+ \(15 min from your order\), or the unit goes back to the sale\.$/).waitFor();
    const orders = await shop.api.get<{ items: OrderSummary[] }>('/api/v1/orders', { token: shopper.token });
    expect(orders.body.items.map((o) => o.status)).toEqual(['RESERVED']);
    const orderId = orders.body.items[0]?.id ?? '';
    await awaiting.getByText(`Order ${orderId.slice(-8).toUpperCase()} is awaiting payment`).waitFor();
    await expect.poll(() => remainingLine(page)).toBe('2 of 3 left · On now');
    await screenshot(page, 'flash-sale-awaiting-payment');

    // Reloaded (or come back to), the sale page finds the order still to pay.
    await page.reload();
    await awaiting.getByText(`Order ${orderId.slice(-8).toUpperCase()} is awaiting payment`).waitFor();
    expect(await page.getByRole('button', { name: /^Buy (now|again)$/ }).count()).toBe(0);

    expect(await page.getByLabel('Card (sandbox)').inputValue()).toBe('tok_visa');
    await page.getByRole('button', { name: 'Pay $4.50' }).click();
    await page.getByText('Paid — your order is confirmed.').waitFor();
    await page.getByRole('link', { name: `See order ${orderId.slice(-8).toUpperCase()}` }).waitFor();
    const paid = await shop.api.get<OrderSummary>(`/api/v1/orders/${orderId}`, { token: shopper.token });
    expect(paid.body.status).toBe('CONFIRMED');
    expect(await page.getByText('is awaiting payment').count()).toBe(0);

    // A second unit is over the limit of 1 per buyer: the sale says so and sells nothing more.
    await page.getByRole('button', { name: 'Buy again' }).click();
    await page.getByRole('alert').getByText('You already hold as many units of this sale as one buyer may.').waitFor();
    await expect.poll(() => remainingLine(page)).toBe('2 of 3 left · On now');
    expect((await shop.api.get<{ items: OrderSummary[] }>('/api/v1/orders', { token: shopper.token })).body.items).toHaveLength(1);
    await screenshot(page, 'flash-sale-over-limit');

    // The admin's table follows: one unit paid, two left.
    await row.getByRole('cell', { name: '2 / 3', exact: true }).waitFor();
    await expect.poll(async () => (await adminSale(sku))?.paid).toBe(1);
    expect(problems).toEqual([]);
    expect(admin.problems).toEqual([]);
  });

  it('a flash-sale order is paid from its order page, in a browser other than the one that bought it; a declined card says why', async () => {
    const { sku } = await shop.createProduct(`Flash Desk ${Date.now().toString(36)}`, 5, 2500);
    const sale = await shop.createFlashSale(sku, 2, 900);
    const buyer = await shop.registerShopper('Order Page Payer');
    const order = await shop.flashSaleOrder(sale.id, buyer);
    expect(order.payBy).toBeDefined();
    const short = order.id.slice(-8).toUpperCase();

    const { page, problems } = await shop.openSignedIn(buyer);
    await page.goto('/orders');
    const row = page.getByRole('row').filter({ hasText: `#${short}` });
    await row.getByText('awaiting payment').waitFor();
    // Followed from the keyboard: the link's first box is its visually hidden "Order ", which a pointer click aims at.
    await row.getByRole('link').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Order #${short}` }).waitFor();
    const payBox = page.getByRole('region', { name: 'Awaiting payment' });
    expect(await payBox.locator('p').first().textContent()).toMatch(/^Pay by .+ \((14 min( \d+ s)?|15 min) left\), or the flash-sale units go back to the sale\.$/);
    // Not the asynchronous-payment wait, and no Cancel: a flash-sale order expires by itself unpaid.
    expect(await page.getByText('Payment pending').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Cancel order' }).count()).toBe(0);
    expect(await payBox.getByLabel(/Visa ending 4242/).isChecked()).toBe(true);
    await screenshot(page, 'flash-sale-order-page-awaiting-payment');

    await payBox.getByRole('button', { name: 'Pay $15.00' }).click();
    await page.getByText('Payment received. Your order is confirmed.').waitFor();
    await page.locator('.order-meta').getByText('Confirmed').waitFor();
    expect(await page.getByRole('region', { name: 'Awaiting payment' }).count()).toBe(0);
    expect((await shop.api.get<OrderSummary>(`/api/v1/orders/${order.id}`, { token: buyer.token })).body.status).toBe('CONFIRMED');
    await page.goto('/orders');
    await row.getByText('Confirmed').waitFor();
    expect(await row.getByText('awaiting payment').count()).toBe(0);

    // Another buyer's card is declined: said in words, the order PAYMENT_FAILED, no way back to checkout.
    const declined = await shop.registerShopper('Declined Payer');
    const second = await shop.flashSaleOrder(sale.id, declined);
    const other = await shop.openSignedIn(declined);
    await other.page.goto(`/orders/${second.id}`);
    const secondBox = other.page.getByRole('region', { name: 'Awaiting payment' });
    await secondBox.getByLabel(/Card ending 0002/).check();
    await secondBox.getByRole('button', { name: 'Pay $15.00' }).click();
    const failed = other.page.getByRole('alert').filter({ hasText: 'The payment did not go through.' });
    await failed.getByText('The bank that issued the card refused the payment. Nothing was charged. The units went back to the flash sale.').waitFor();
    await other.page.locator('.order-meta').getByText('Payment failed').waitFor();
    expect(await other.page.getByRole('button', { name: 'Try again' }).count()).toBe(0);
    expect((await shop.api.get<OrderSummary>(`/api/v1/orders/${second.id}`, { token: declined.token })).body.status).toBe('PAYMENT_FAILED');
    await screenshot(other.page, 'flash-sale-order-page-declined');
    expect(problems).toEqual([]);
    expect(other.problems).toEqual([]);
  });

  it('past its deadline a flash-sale order page says the payment window closed, whether the browser or the API notices first', async () => {
    const { sku } = await shop.createProduct(`Flash Chair ${Date.now().toString(36)}`, 5, 2500);
    // A window of seconds: the order expires a grace (as long again) after it, plus a sweep.
    const sale = await shop.createFlashSale(sku, 1, SHORT_WINDOW_SECONDS);
    const buyer = await shop.registerShopper('Late Payer');
    const order = await shop.flashSaleOrder(sale.id, buyer);
    const payBy = new Date(order.payBy ?? '').getTime();
    expect(payBy).toBeGreaterThan(Date.now());

    // A browser whose clock is behind still offers Pay; the API refuses it (409) past the deadline.
    const behind = await shop.openSignedIn(buyer);
    await behind.context.clock.install({ time: Date.now() - CLOCK_BEHIND_MS });
    await behind.page.goto(`/orders/${order.id}`);
    const pay = behind.page.getByRole('button', { name: 'Pay $15.00' });
    await pay.waitFor();
    await new Promise((resolve) => setTimeout(resolve, payBy - Date.now() + 250));
    await pay.click();
    await behind.page.getByRole('alert').getByText(/^The payment window closed at .+\.$/).waitFor();
    expect(await pay.count()).toBe(0);
    expect((await shop.api.get<OrderSummary>(`/api/v1/orders/${order.id}`, { token: buyer.token })).body.status).not.toBe('CONFIRMED');

    // A browser on time shows the window closed, without Pay.
    const onTime = await shop.openSignedIn(buyer);
    await onTime.page.goto(`/orders/${order.id}`);
    await onTime.page.getByRole('alert').getByText(/^The payment window closed at .+/).waitFor();
    expect(await onTime.page.getByRole('button', { name: /^Pay / }).count()).toBe(0);
    await screenshot(onTime.page, 'flash-sale-order-page-window-closed');
    expect(behind.problems).toEqual([]);
    expect(onTime.problems).toEqual([]);
  });

  it('a sale on the shop default window sells out before a second shopper; a declined card gives the unit back', async () => {
    const { sku } = await shop.createProduct(`Flash Kettle ${Date.now().toString(36)}`, 5, 3000);
    const admin = await shop.openAsAdmin();
    await admin.page.goto('/admin/flash-sales');
    await fillSaleForm(admin.page, { sku, units: 1, price: '9.00', perBuyer: 1, paymentWindow: '' });
    await admin.page.getByRole('button', { name: 'Create sale' }).click();
    const created = admin.page.getByRole('status').filter({ hasText: 'Sale created' });
    await created.getByText(`Sale created: 1 × ${sku}, payment window shop default.`).waitFor();
    await saleRow(admin.page, sku).getByRole('cell', { name: 'Shop default', exact: true }).waitFor();
    const sale = await adminSale(sku);
    expect(sale).toBeDefined();
    expect(sale && 'paymentWindowSeconds' in sale).toBe(false);
    const salePath = `/flash-sales/${sale?.id}`;

    const first = await shop.openSignedIn(await shop.registerShopper('First Buyer'));
    // The second shopper is on a phone, as most of a stampede is.
    const second = await shop.openSignedIn(await shop.registerShopper('Second Buyer'), PHONE);
    await second.page.goto(salePath);
    await expect.poll(() => remainingLine(second.page)).toBe('1 of 1 left · On now');
    await second.page.getByRole('button', { name: 'Buy now' }).waitFor();

    await first.page.goto(salePath);
    await first.page.getByRole('button', { name: 'Buy now' }).click();
    const awaiting = first.page.getByRole('status').filter({ hasText: 'is awaiting payment' });
    await awaiting.getByText(/is awaiting payment: \$9\.00 for 1 ×/).waitFor();
    await awaiting.getByText('Pay within the payment window, or the unit goes back to the sale.').waitFor();

    // The second shopper's open page follows the count: sold out, said in words, and no buy button.
    await expect.poll(() => remainingLine(second.page)).toBe('0 of 1 left · Sold out');
    await second.page.getByText('Sold out — every unit has been taken. Units of unpaid orders come back; keep the page open.').waitFor();
    expect(await second.page.getByRole('button', { name: /^Buy (now|again)$/ }).count()).toBe(0);
    expect(await sidewaysOverflow(second.page)).toBe(0);
    await screenshot(second.page, 'flash-sale-sold-out');

    await first.page.getByLabel('Card (sandbox)').selectOption('tok_declined');
    await first.page.getByRole('button', { name: 'Pay $9.00' }).click();
    await first.page.getByRole('alert').getByText('Your card was declined: the unit went back to the sale.').waitFor();
    await first.page.getByRole('button', { name: 'Buy again' }).waitFor();
    await screenshot(first.page, 'flash-sale-declined');

    // The unit is back: the second shopper, who waited, can buy it now.
    await expect.poll(() => remainingLine(second.page), { timeout: 10_000 }).toBe('1 of 1 left · On now');
    await second.page.getByRole('button', { name: 'Buy now' }).click();
    await second.page.getByRole('status').getByText(/is awaiting payment: \$9\.00 for 1 ×/).waitFor();
    expect(await sidewaysOverflow(second.page)).toBe(0);
    await screenshot(second.page, 'flash-sale-phone-awaiting-payment');
    expect(first.problems).toEqual([]);
    expect(second.problems).toEqual([]);
    expect(admin.problems).toEqual([]);
  });
});
