import { png } from '../support/png.js';
import { expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { screenshot } from './browser.js';
import { describeInChromium, type Product } from './shop-fixtures.js';

/** Polls as long as a page may take to answer (expect.poll's default gives up after one second). */
const poll = <T>(read: () => Promise<T> | T) => expect.poll(read, { timeout: 15_000 });

/** What an <img> says of its loading (the test's TypeScript has no DOM types). */
interface ImageState {
  complete: boolean;
  naturalWidth: number;
  currentSrc: string;
}

/** Whether the image has loaded and decoded (a broken image has no natural width). */
const loaded = (page: Page, selector: string): Promise<boolean> =>
  page
    .locator(selector)
    .first()
    .evaluate((img) => {
      const image = img as unknown as ImageState;
      return image.complete && image.naturalWidth > 0;
    });

/** Product images, sort and price filters kept in the URL, result counts, related products and the admin's image upload and category picker (issue 14). */
describeInChromium('catalog features in headless Chromium', { demoProducts: 20 }, (shop) => {
  const suffix = Date.now().toString(36);
  const category = `browser-${suffix}`;
  const created: Product[] = [];

  const create = async (name: string, cents: number): Promise<Product> => {
    const sku = `CF-${suffix}-${created.length}`.toUpperCase();
    const body = { name, description: 'Made by the catalog features test.', category, variants: [{ sku, title: 'Standard', price: { amount: cents, currency: 'USD' } }] };
    const res = await shop.api.post<Product>('/api/v1/admin/products', body, { token: await shop.adminToken() });
    expect(res.status, res.text).toBe(201);
    created.push(res.body);
    return res.body;
  };

  it('shows product images, sorts and filters by price with a count kept in the URL, and relates products', async () => {
    await create('Maple Desk Tray', 1000);
    const middle = await create('Walnut Desk Tray', 2500);
    await create('Oak Desk Tray', 4000);
    const { page, problems } = await shop.open();

    await page.goto(`/search?category=${category}`);
    const cards = page.locator('.product-card');
    await poll(() => cards.count()).toBe(3);
    await page.locator('.results-summary').getByText('3 products').waitFor();
    // Every card shows its picture, loaded, with alt text and a reserved box.
    const image = cards.first().locator('img.product-image');
    await poll(() => loaded(page, '.product-card img.product-image')).toBe(true);
    expect(await image.getAttribute('alt')).toBe('Oak Desk Tray');
    expect(await image.getAttribute('width')).toBe('800');
    expect(await image.getAttribute('height')).toBe('800');

    await page.getByLabel('Sort by').selectOption({ label: 'Price: high to low' });
    await poll(() => page.url()).toContain('sort=price_desc');
    await poll(async () => (await cards.locator('h3').allTextContents()).join(' | ')).toBe('Oak Desk Tray | Walnut Desk Tray | Maple Desk Tray');

    await page.getByLabel('Lowest price').fill('20');
    await page.getByLabel('Highest price').fill('30');
    await page.getByRole('button', { name: 'Apply prices' }).click();
    await poll(() => page.url()).toContain('minPrice=2000');
    expect(page.url()).toContain('maxPrice=3000');
    await poll(() => cards.count()).toBe(1);
    await page.locator('.results-summary').getByText('1 product', { exact: true }).waitFor();
    await screenshot(page, 'catalog-search-filters');

    // The product page: its picture, and the other trays nearest in price.
    await cards.first().getByRole('link', { name: 'Walnut Desk Tray' }).click();
    await page.getByRole('heading', { name: 'Walnut Desk Tray', level: 1 }).waitFor();
    await poll(() => loaded(page, '.product-picture img')).toBe(true);
    const related = page.getByRole('region', { name: 'You may also like' });
    await related.getByRole('link', { name: 'Maple Desk Tray' }).waitFor();
    await related.getByRole('link', { name: 'Oak Desk Tray' }).waitFor();
    expect(await related.getByText('Walnut Desk Tray').count()).toBe(0);
    expect(page.url()).toContain(middle.id);

    // Back: the sort, the bounds and the one result are as they were.
    await page.goBack();
    await page.locator('.results-summary').getByText('1 product', { exact: true }).waitFor();
    expect(await page.getByLabel('Sort by').inputValue()).toBe('price_desc');
    expect(await page.getByLabel('Lowest price').inputValue()).toBe('20.00');
    expect(await page.getByLabel('Highest price').inputValue()).toBe('30.00');
    expect(problems).toEqual([]);
  });

  it('lets an admin upload an image, shown in several widths on the storefront, and pick or enter a category', async () => {
    const product = created[0] ?? (await create('Maple Desk Tray', 1000));
    const { page, problems } = await shop.openAsAdmin();
    await page.goto(`/admin/products/${product.id}`);
    await page.getByRole('heading', { name: 'Image' }).waitFor();

    // The category is picked from the existing ones; a new one is typed and checked like the API does.
    const picker = page.getByLabel('Category', { exact: true });
    expect(await picker.inputValue()).toBe(category);
    expect(await picker.locator('option').allTextContents()).toContain('New category…');
    await picker.selectOption({ label: 'New category…' });
    await page.getByLabel('New category').fill('Desk Things!');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText(/Use lowercase letters, digits and dashes/).waitFor();
    await picker.selectOption(category);
    expect(await page.getByLabel('New category').count()).toBe(0);
    // Picking a valid category clears the error the typed one had.
    expect(await page.getByText(/Use lowercase letters, digits and dashes/).count()).toBe(0);

    // A file of the wrong type is refused before it is sent.
    const upload = page.locator('.image-upload');
    await upload.getByLabel('Image file').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
    await upload.getByText('Choose a PNG, JPEG or WebP image.').waitFor();
    await upload.getByLabel('Image file').setInputFiles({ name: 'tray.png', mimeType: 'image/png', buffer: png(1000, 750) });
    await upload.getByLabel('Alt text').fill('A maple tray on a desk');
    await upload.getByRole('button', { name: 'Upload image' }).click();
    await upload.getByText('Image uploaded.').waitFor();
    await poll(() => upload.locator('img').getAttribute('src')).toMatch(/-1000\.webp$/);
    await screenshot(page, 'admin-image-uploaded');

    // The storefront shows the upload, in the widths the screen picks from.
    await page.goto(`/products/${product.id}`);
    const picture = page.locator('.product-picture img');
    await poll(() => loaded(page, '.product-picture img')).toBe(true);
    expect(await picture.getAttribute('alt')).toBe('A maple tray on a desk');
    expect(await picture.getAttribute('srcset')).toMatch(/-320\.webp 320w, .*-640\.webp 640w, .*-1000\.webp 1000w$/);
    expect(await picture.evaluate((img) => (img as unknown as ImageState).currentSrc)).toMatch(/\.webp$/);
    expect(problems).toEqual([]);
  });
});
