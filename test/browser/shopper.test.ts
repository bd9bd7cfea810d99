import { expect, it } from 'vitest';
import { PHONE, screenshot, signInWithToken } from './browser.js';
import { ADDRESS, describeInChromium, fillAddress, focused, sidewaysOverflow } from './shop-fixtures.js';

/**
 * The sandbox settles a `tok_async` payment this long after checkout answered 202: long enough that
 * the cart read right after checkout still holds the lines (they leave it once the payment settles).
 */
const ASYNC_SETTLE_MS = 1_500;
const ORDER_URL = /\/orders\/[0-9a-f-]{36}\?placed=1$/;
const ORDER_READ = /\/api\/v1\/orders\/[0-9a-f-]{36}$/;

/**
 * What a shopper sees at the edges of the storefront (issue 14): payments that settle later,
 * declines, stock running short, limits, keyboard focus, going back, narrow phones.
 */
describeInChromium('storefront in headless Chromium', { demoProducts: 50, env: { AGORA_PAYMENT_SANDBOX_ASYNC_DELAY_MS: String(ASYNC_SETTLE_MS) } }, (shop) => {
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
  it('keeps the cart within the stock, says the limits, and names the short line when stock runs out at checkout', async () => {
    const name = `Stock Limit Lamp ${Date.now().toString(36)}`;
    const { product, sku } = await shop.createProduct(name, 80);
    const session = await shop.shopperWithCart(sku, 50);
    const { page, context, problems } = await shop.open();
    await signInWithToken(context, session);
    const cartQuantity = async () => (await shop.api.get<{ items: { sku: string; quantity: number }[] }>('/api/v1/cart', { token: session.token })).body.items.find((l) => l.sku === sku)?.quantity;

    // The product page counts what the cart already holds.
    await page.goto(`/products/${product.id}`);
    await page.getByRole('heading', { level: 1, name }).waitFor();
    await page.getByLabel('Quantity').fill('31');
    await page.getByText('Your cart already holds 50: at most 30 more can be added.').waitFor();
    expect(await page.getByRole('button', { name: 'Add to cart' }).getAttribute('aria-disabled')).toBe('true');

    // The cart refuses more than the stock, and says so instead of quietly going back.
    await page.goto('/cart');
    const quantity = page.getByRole('spinbutton', { name: `Quantity of ${name} (Standard)` });
    await quantity.fill('99');
    await quantity.press('Enter');
    await page.getByText('Only 80 available: lower the quantity to check out.').waitFor();
    expect(await quantity.inputValue()).toBe('99');
    expect(await quantity.getAttribute('aria-invalid')).toBe('true');
    // Past the cart's own limit the message names that limit.
    await quantity.fill('10000');
    await quantity.press('Enter');
    await page.getByText('You can buy at most 99 of one item.').waitFor();
    expect(await quantity.inputValue()).toBe('10000');
    await screenshot(page, 'cart-quantity-limit');
    expect(await cartQuantity()).toBe(50);
    await quantity.fill('60');
    await quantity.press('Enter');
    await page.getByText('Subtotal (60 items)').waitFor();
    expect(await cartQuantity()).toBe(60);

    // Stock falls below the cart meanwhile: checkout names the line, and says once that nothing was charged.
    const token = await shop.adminToken();
    expect((await shop.api.put(`/api/v1/admin/inventory/${sku}`, { onHand: 40 }, { token })).status).toBe(200);
    await page.goto('/checkout');
    await page.getByRole('heading', { name: 'Checkout' }).waitFor();
    await fillAddress(page);
    await page.getByRole('button', { name: /Place order/ }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Not enough stock for your order' });
    await alert.getByText(`${name} — Standard: 60 in your cart, 40 available now.`).waitFor();
    expect(((await alert.textContent()) ?? '').match(/nothing was charged/gi)).toHaveLength(1);
    await screenshot(page, 'checkout-out-of-stock');

    // Back in the cart the line is marked until it fits the stock.
    await alert.getByRole('link', { name: 'Change the quantities in your cart' }).click();
    await page.getByText('Only 40 available: lower the quantity to check out.').waitFor();
    expect(problems).toEqual([]);
  });

  it('keeps keyboard focus on Add to cart and moves it to the next line on Remove', async () => {
    const first = await shop.productInStock(3);
    const second = await shop.productInStock(3, [first.product.id]);
    const session = await shop.shopperWithCart(second.variant.sku, 1);
    const { page, context, problems } = await shop.open();
    await signInWithToken(context, session);

    await page.goto(`/products/${first.product.id}`);
    await page.getByRole('heading', { level: 1, name: first.product.name }).waitFor();
    if (first.product.variants.length > 1) await page.getByRole('radio', { name: new RegExp(first.variant.title) }).check();
    await page.getByRole('button', { name: 'Add to cart' }).focus();
    await page.keyboard.press('Enter');
    await page.getByText('Added to your cart').waitFor();
    expect(await focused(page)).toBe('BUTTON Add to cart');

    await page.goto('/cart');
    const lines = page.getByRole('list', { name: 'Items in your cart' }).getByRole('listitem');
    await page.getByText('Subtotal (2 items)').waitFor();
    await lines.first().getByRole('button', { name: /^Remove/ }).focus();
    await page.keyboard.press('Enter');
    await page.getByText('Subtotal (1 item)').waitFor();
    // Polled from outside the page: a string predicate for waitForFunction is eval'd in the page, which its CSP refuses once it polls.
    await expect.poll(() => focused(page)).toMatch(/^BUTTON Remove/);
    expect(await lines.count()).toBe(1);
    await page.keyboard.press('Enter');
    await page.getByText('Your cart is empty.').waitFor();
    await expect.poll(() => focused(page)).toMatch(/^[A-Z]+ Find something$/);
    expect(problems).toEqual([]);
  });
  it('explains a bad e-mail in words and links "Sign in instead?" when the e-mail is taken', async () => {
    const { page, problems } = await shop.open();
    await page.goto('/register');
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    await page.getByLabel('Name').fill('Robin Register');
    await page.getByLabel('Password').fill('browser-pass-1');
    const email = page.getByLabel('E-mail');
    // Caught before sending...
    await email.fill('not-an-email');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Enter an e-mail address like name@example.com.').waitFor();
    // ...and when only the API's stricter rule catches it, its answer is put in words too.
    await email.fill('robin@-example.com');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Please correct the highlighted fields.').waitFor();
    await page.getByText('Enter an e-mail address like name@example.com.').waitFor();
    expect(await page.locator('main').textContent()).not.toMatch(/must match|format "email"/);
    expect(await email.getAttribute('aria-invalid')).toBe('true');

    const taken = await shop.registerShopper();
    await email.fill(taken.user.email);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('An account with this e-mail already exists.').waitFor();
    await screenshot(page, 'register-email-taken');
    await page.getByRole('link', { name: 'Sign in instead?' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(problems).toEqual([]);
  });
  it('wraps a long unbroken product name and fits the order table on a 375 px phone', async () => {
    const word = 'Supercalifragilisticexpialidocious'.repeat(2);
    const name = `${word} ${Date.now().toString(36)}`;
    const { product, sku } = await shop.createProduct(name, 10, 129_999_99);
    const session = await shop.shopperWithCart(sku, 3);
    const checkout = { payment: { method: 'card', token: 'tok_visa' }, shippingAddress: { name: 'Phone', country: 'US', ...ADDRESS } };
    const placed = await shop.api.post<{ id: string }>('/api/v1/checkout', checkout, { token: session.token, headers: { 'idempotency-key': `phone-${sku}` } });
    expect(placed.status).toBe(201);
    await shop.api.post('/api/v1/cart/items', { sku, quantity: 1 }, { token: session.token });
    const { page, context, problems } = await shop.open(PHONE);
    await signInWithToken(context, session);

    await page.goto(`/products/${product.id}`);
    await page.getByRole('heading', { level: 1, name }).waitFor();
    expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
    await screenshot(page, 'phone-long-name-product');

    await page.goto(`/search?q=${encodeURIComponent(word)}`);
    await page.getByRole('link', { name }).waitFor();
    expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);

    await page.goto('/cart');
    await page.getByRole('list', { name: 'Items in your cart' }).getByRole('link', { name }).waitFor();
    expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);

    await page.goto('/checkout');
    await page.getByRole('complementary', { name: 'Order summary' }).getByText(name).waitFor();
    expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);

    // The order's Items table: every column, Total included, inside the screen and not cut off.
    await page.goto(`/orders/${placed.body.id}`);
    const table = page.getByRole('table');
    await table.getByRole('columnheader', { name: 'Total' }).waitFor();
    expect(await sidewaysOverflow(page)).toBeLessThanOrEqual(0);
    // The table's scrolling box: its content must fit it, not hide past its right edge.
    const wrap = (await page.evaluate(
      '(() => { const box = document.querySelector("main table").parentElement; return { scroll: box.scrollWidth, client: box.clientWidth, right: box.getBoundingClientRect().right }; })()',
    )) as { scroll: number; client: number; right: number };
    expect(wrap.scroll).toBeLessThanOrEqual(wrap.client);
    for (const cell of [table.getByRole('columnheader', { name: 'Total' }), table.locator('tfoot td').last()]) {
      const box = await cell.boundingBox();
      expect(box).not.toBeNull();
      expect((box?.x ?? 0) + (box?.width ?? 0)).toBeLessThanOrEqual(Math.min(wrap.right, PHONE.width) + 0.5);
    }
    await table.locator('tfoot').getByText('$389,999.97').waitFor();
    await table.getByText('$129,999.99 each').waitFor();
    await screenshot(page, 'phone-order-table');
    expect(problems).toEqual([]);
  });
  it('comes Back from a product to the same search results, "Load more" pages and scroll position included', async () => {
    const { page, problems } = await shop.open();
    await page.goto('/search');
    const cards = page.locator('.product-grid > li');
    await page.getByRole('button', { name: 'Load more' }).waitFor();
    const firstPage = await cards.count();
    await page.getByRole('button', { name: 'Load more' }).click();
    await expect.poll(() => cards.count()).toBeGreaterThan(firstPage);
    const loaded = await cards.count();
    const target = cards.nth(loaded - 2).getByRole('link');
    const name = (await target.textContent()) ?? '';
    await target.scrollIntoViewIfNeeded();
    const scrolled = (await page.evaluate('window.scrollY')) as number;
    expect(scrolled).toBeGreaterThan(0);
    await target.click();
    await page.getByRole('heading', { level: 1, name }).waitFor();

    await page.goBack();
    await page.getByRole('heading', { name: 'Search products' }).waitFor();
    await page.getByRole('link', { name, exact: true }).waitFor();
    expect(await cards.count()).toBe(loaded);
    expect(Math.abs(((await page.evaluate('window.scrollY')) as number) - scrolled)).toBeLessThanOrEqual(1);
    expect(await page.getByRole('link', { name, exact: true }).isVisible()).toBe(true);
    await screenshot(page, 'search-after-back');
    expect(problems).toEqual([]);
  });
  it('shows the not-found page for a malformed product or order id without asking the API', async () => {
    const { page, problems } = await shop.open();
    const asked: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/api/v1/products/') || request.url().includes('/api/v1/orders/')) asked.push(request.url());
    });
    for (const path of ['/products/not-a-uuid', '/products/01a25184-7d19-77ba-91ca-29219aa4e25', '/orders/xyz']) {
      await page.goto(path);
      await page.getByRole('heading', { level: 1, name: 'Page not found' }).waitFor();
      await page.getByText('There is nothing at this address.').waitFor();
    }
    expect(asked).toEqual([]);
    // A well-formed id the catalog does not know: the API's 404, as the product's own not-found page.
    await page.goto('/products/01a25184-7d19-77ba-91ca-000000000000');
    await page.getByRole('heading', { level: 1, name: 'Product not found' }).waitFor();
    expect(problems).toEqual([]);
  });
});
