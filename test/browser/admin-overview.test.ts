import { expect, it } from 'vitest';
import { screenshot } from './browser.js';
import { describeInChromium, type Session } from './shop-fixtures.js';

const DAY_MS = 24 * 60 * 60 * 1000;

const CHECKOUT = (token: string) => ({ payment: { method: 'card', token }, shippingAddress: { name: 'Robin', country: 'US', line1: '1 A St', city: 'B', postalCode: '1' } });

/** The admin's overview of today and the customers list, as an operator uses them (issue 14). */
describeInChromium('admin overview and customers in headless Chromium', { demoProducts: 0 }, (shop) => {
  it("shows today's figures over the sections, then finds a customer and their orders", async (context) => {
    const startOfDay = (): number => Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const day = startOfDay();
    const tag = Date.now().toString(36);
    const { sku } = await shop.createProduct(`Overview Lamp ${tag}`, 50, 1500);
    const { sku: scarce } = await shop.createProduct(`Overview Rare Vase ${tag}`, 2, 9900);
    const robin: Session = await shop.registerShopper(`Robin Overview ${tag}`);
    const buy = async (card: string, key: string): Promise<number> => {
      expect((await shop.api.post('/api/v1/cart/items', { sku, quantity: 2 }, { token: robin.token })).status).toBe(200);
      return (await shop.api.post('/api/v1/checkout', CHECKOUT(card), { token: robin.token, headers: { 'idempotency-key': key } })).status;
    };
    expect(await buy('tok_visa', `ok-${tag}`)).toBe(201);
    expect(await buy('tok_declined', `declined-${tag}`)).toBe(402);

    // Orders placed before midnight UTC are yesterday's: a run that crossed it has nothing to check.
    if (startOfDay() !== day) context.skip();
    const { page, problems } = await shop.openAsAdmin();
    await page.goto('/admin');
    await page.getByRole('heading', { name: 'Today', exact: true }).waitFor();
    const stat = (name: string) => page.locator('.stat').filter({ has: page.getByRole('term').filter({ hasText: name }) });
    // One order of 2 x $15.00 confirmed, one declined: $30.00 sold, 2 orders, 1 of 2 converted.
    await stat('Sales').getByText('$30.00').waitFor();
    expect(await stat('Orders').locator('dd').first().textContent()).toBe('2');
    expect(await stat('Conversion').locator('dd').first().textContent()).toBe('50%');
    await stat('Conversion').getByText('1 of 2 checkouts confirmed').waitFor();
    const statuses = page.locator('.overview-statuses li');
    expect(await statuses.allTextContents()).toEqual(['Confirmed1', 'Payment failed1']);
    const alert = page.locator('.overview-alerts li').filter({ hasText: scarce });
    await alert.getByText('2 available').waitFor();
    expect(await page.locator('.overview-alerts li').filter({ hasText: sku }).count()).toBe(0);
    await page.getByRole('link', { name: 'Restock on the Stock page' }).waitFor();
    // The sections are still there, below the figures.
    await page.locator('.admin-cards').getByRole('link', { name: 'Customers' }).waitFor();
    await screenshot(page, 'admin-overview');

    await page.getByRole('navigation', { name: 'Admin' }).getByRole('link', { name: 'Customers' }).click();
    await page.getByRole('heading', { name: 'Customers', exact: true }).waitFor();
    // Newest first: the shopper made last heads the unfiltered list.
    const firstRow = page.getByRole('table', { name: 'Customers, newest first' }).locator('tbody tr').first();
    await firstRow.getByRole('link', { name: `Robin Overview ${tag}` }).waitFor();
    await page.getByLabel('Name or e-mail').fill(`OVERVIEW ${tag.toUpperCase()}`);
    await page.getByRole('status').getByText('1 customer').waitFor();
    const row = page.getByRole('table', { name: 'Customers, newest first' }).locator('tbody tr');
    expect(await row.count()).toBe(1);
    await row.getByText('Customer', { exact: true }).waitFor();
    await page.getByLabel('Name or e-mail').fill(`nobody-${tag}`);
    await page.getByRole('status').getByText(`No customer matches “nobody-${tag}”`).waitFor();
    await page.getByLabel('Name or e-mail').fill(tag);
    await row.getByRole('link', { name: `Robin Overview ${tag}` }).click();

    await page.getByRole('heading', { name: `Robin Overview ${tag}` }).waitFor();
    const orders = page.getByRole('table', { name: `Orders of Robin Overview ${tag}` }).locator('tbody tr');
    await expect.poll(() => orders.count()).toBe(2);
    expect(await orders.nth(0).getByText('Payment failed').count()).toBe(1);
    expect(await orders.nth(1).getByText('Confirmed').count()).toBe(1);
    await screenshot(page, 'admin-customer');
    expect(problems).toEqual([]);
  });
});
