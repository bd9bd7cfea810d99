import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Shop, expectFieldError, expectProblem, type Cart, type Product, type Shopper } from '../support/shop.js';
import { systemVariants } from '../support/system.js';

/** The cart of docs/api.md as a shopper sees it through the gateway, on every backend. */
for (const variant of systemVariants) {
  describe.runIf(await variant.available())(`cart API on ${variant.name}`, () => {
    let shop: Shop;
    let product: Product;
    let cheap: string;
    let dear: string;
    let alice: Shopper;
    let bob: Shopper;

    beforeAll(async () => {
      shop = await Shop.open(variant);
      ({ product, skus: [cheap = '', dear = ''] } = await shop.product([1_250, 9_999], 'CART'));
      await shop.stock(cheap, 50);
      await shop.stock(dear, 50);
      alice = await shop.register();
      bob = await shop.register();
    });
    afterAll(async () => shop?.stop());

    const lineOf = (cart: Cart, sku: string) => cart.items.find((i) => i.sku === sku);

    it('answers 401 without a valid token on every cart route', async () => {
      const { api } = shop;
      expectProblem(await api.get('/api/v1/cart'), 401, 'UNAUTHENTICATED');
      expectProblem(await api.post('/api/v1/cart/items', { sku: cheap, quantity: 1 }), 401, 'UNAUTHENTICATED');
      expectProblem(await api.patch(`/api/v1/cart/items/${cheap}`, { quantity: 1 }), 401, 'UNAUTHENTICATED');
      expectProblem(await api.delete(`/api/v1/cart/items/${cheap}`), 401, 'UNAUTHENTICATED');
      expectProblem(await api.get('/api/v1/cart', { token: 'not-a-jwt' }), 401, 'UNAUTHENTICATED');
      // Auth comes before validation: an anonymous caller learns nothing from a 400.
      expectProblem(await api.post('/api/v1/cart/items', { sku: cheap, quantity: 0 }), 401, 'UNAUTHENTICATED');
    });

    it('starts empty', async () => {
      expect(await shop.cart(alice)).toMatchObject({ items: [], subtotal: { amount: 0, currency: 'USD' }, itemCount: 0 });
    });

    it('adds a line priced from the catalog', async () => {
      const cart = await shop.add(alice, cheap, 2);
      expect(cart.items).toHaveLength(1);
      expect(lineOf(cart, cheap)).toMatchObject({
        sku: cheap,
        productId: product.id,
        title: 'Variant 0',
        quantity: 2,
        unitPrice: { amount: 1_250, currency: 'USD' },
        lineTotal: { amount: 2_500, currency: 'USD' },
      });
      expect(cart.subtotal).toEqual({ amount: 2_500, currency: 'USD' });
      expect(cart.itemCount).toBe(2);
    });

    it('merges a second add of the same SKU into its line', async () => {
      const cart = await shop.add(alice, cheap, 3);
      expect(cart.items).toHaveLength(1);
      expect(lineOf(cart, cheap)).toMatchObject({ quantity: 5, lineTotal: { amount: 6_250, currency: 'USD' } });
      const more = await shop.add(alice, dear, 1);
      expect(more.items.map((i) => i.sku).sort()).toEqual([cheap, dear].sort());
      expect(more.subtotal).toEqual({ amount: 6_250 + 9_999, currency: 'USD' });
      expect(more.itemCount).toBe(6);
      expect(await shop.cart(alice)).toEqual(more);
    });

    it('sets a quantity with PATCH and removes a line with PATCH 0 or DELETE', async () => {
      const patched = await shop.api.patch<Cart>(`/api/v1/cart/items/${cheap}`, { quantity: 7 }, { token: alice.token });
      expect(patched.status, patched.text).toBe(200);
      expect(lineOf(patched.body, cheap)?.quantity).toBe(7);
      expect(patched.body.itemCount).toBe(8);

      const zeroed = await shop.api.patch<Cart>(`/api/v1/cart/items/${dear}`, { quantity: 0 }, { token: alice.token });
      expect(zeroed.status, zeroed.text).toBe(200);
      expect(zeroed.body.items.map((i) => i.sku)).toEqual([cheap]);

      await shop.add(alice, dear, 2);
      const deleted = await shop.api.delete<Cart>(`/api/v1/cart/items/${dear}`, { token: alice.token });
      expect(deleted.status, deleted.text).toBe(200);
      expect(deleted.body.items.map((i) => i.sku)).toEqual([cheap]);
      expect(deleted.body.subtotal).toEqual({ amount: 7 * 1_250, currency: 'USD' });

      // Removing what is not there changes nothing; setting the quantity of a missing line is a 404.
      const again = await shop.api.delete<Cart>(`/api/v1/cart/items/${dear}`, { token: alice.token });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(deleted.body);
      expectProblem(await shop.api.patch(`/api/v1/cart/items/${dear}`, { quantity: 3 }, { token: alice.token }), 404, 'NOT_FOUND');
    });

    it('keeps quantities within 1..99, naming `quantity`', async () => {
      const { api } = shop;
      const opts = { token: bob.token };
      for (const quantity of [0, -1, 100, 1.5, '3', null]) {
        expectFieldError(await api.post('/api/v1/cart/items', { sku: cheap, quantity }, opts), 'quantity');
      }
      expectFieldError(await api.post('/api/v1/cart/items', { sku: cheap }, opts), 'quantity');
      expect((await shop.cart(bob)).items).toEqual([]);

      expect(lineOf(await shop.add(bob, cheap, 99), cheap)?.quantity).toBe(99);
      // A merge past 99 is refused as a whole and leaves the line as it was.
      expectFieldError(await api.post('/api/v1/cart/items', { sku: cheap, quantity: 1 }, opts), 'quantity');
      expect(lineOf(await shop.cart(bob), cheap)?.quantity).toBe(99);

      for (const quantity of [-1, 100, 2.5, 'ten']) {
        expectFieldError(await api.patch(`/api/v1/cart/items/${cheap}`, { quantity }, opts), 'quantity');
      }
      expect(lineOf(await shop.cart(bob), cheap)?.quantity).toBe(99);
      expect((await api.patch<Cart>(`/api/v1/cart/items/${cheap}`, { quantity: 1 }, opts)).body.itemCount).toBe(1);
      expect((await api.delete<Cart>(`/api/v1/cart/items/${cheap}`, opts)).body.items).toEqual([]);
    });

    it('answers 404 for a SKU the catalog does not sell, and 400 for one that is not a SKU', async () => {
      const unknown = await shop.api.post('/api/v1/cart/items', { sku: 'NO-SUCH-SKU-42', quantity: 1 }, { token: bob.token });
      expectProblem(unknown, 404, 'NOT_FOUND');
      expectFieldError(await shop.api.post('/api/v1/cart/items', { quantity: 1 }, { token: bob.token }), 'sku');
      expectFieldError(await shop.api.post('/api/v1/cart/items', { sku: '', quantity: 1 }, { token: bob.token }), 'sku');
      expect((await shop.cart(bob)).items).toEqual([]);
    });

    it('shows the catalog’s current price: an admin price change reprices the cart', async () => {
      const shopper = await shop.register();
      const { product: priced, skus } = await shop.product([2_000, 3_000], 'PRICE');
      const [first = '', second = ''] = skus;
      await shop.add(shopper, first, 3);
      await shop.add(shopper, second, 1);
      expect((await shop.cart(shopper)).subtotal.amount).toBe(3 * 2_000 + 3_000);

      const patch = await shop.api.patch<Product>(
        `/api/v1/admin/products/${priced.id}`,
        {
          variants: [
            { sku: first, title: 'Variant 0', price: { amount: 1_500, currency: 'USD' } },
            { sku: second, title: 'Variant 1', price: { amount: 3_000, currency: 'USD' } },
          ],
        },
        { token: shop.adminToken },
      );
      expect(patch.status, patch.text).toBe(200);

      const cart = await shop.cart(shopper);
      expect(lineOf(cart, first)).toMatchObject({ quantity: 3, unitPrice: { amount: 1_500, currency: 'USD' }, lineTotal: { amount: 4_500, currency: 'USD' } });
      expect(cart.subtotal).toEqual({ amount: 4_500 + 3_000, currency: 'USD' });
      await shop.api.delete(`/api/v1/cart/items/${first}`, { token: shopper.token });
      await shop.api.delete(`/api/v1/cart/items/${second}`, { token: shopper.token });
    });

    it('keeps every shopper’s cart to themselves', async () => {
      const carol = await shop.register();
      const dave = await shop.register();
      await shop.add(carol, cheap, 4);
      expect((await shop.cart(dave)).items).toEqual([]);

      // Dave's changes to "the same" SKU touch only his own cart.
      expectProblem(await shop.api.patch(`/api/v1/cart/items/${cheap}`, { quantity: 1 }, { token: dave.token }), 404, 'NOT_FOUND');
      expect((await shop.api.delete<Cart>(`/api/v1/cart/items/${cheap}`, { token: dave.token })).body.items).toEqual([]);
      await shop.add(dave, cheap, 1);
      expect(lineOf(await shop.cart(carol), cheap)?.quantity).toBe(4);
      expect(lineOf(await shop.cart(dave), cheap)?.quantity).toBe(1);

      // The caller comes from the token only: internal caller headers sent by a client are ignored.
      const spoofed = await shop.api.get<Cart>('/api/v1/cart', { token: dave.token, headers: { 'x-agora-user-id': carol.id, 'x-agora-user-role': 'admin' } });
      expect(spoofed.status).toBe(200);
      expect(lineOf(spoofed.body, cheap)?.quantity).toBe(1);
      await shop.api.delete(`/api/v1/cart/items/${cheap}`, { token: carol.token });
      await shop.api.delete(`/api/v1/cart/items/${cheap}`, { token: dave.token });
    });

    it('leaves stock untouched (a cart holds nothing) and the conservation laws intact', async () => {
      expect(await shop.available(cheap)).toBe(50);
      expect(await shop.available(dear)).toBe(50);
      await shop.expectInvariants();
    });
  });
}
