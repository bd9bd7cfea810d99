import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Shop, checkoutBody, expectFieldError, expectProblem, type Order, type OrderStatus, type Page, type Shopper } from '../support/shop.js';
import { systemVariants } from '../support/system.js';

const statuses = (order: Order): OrderStatus[] => order.history.map((h) => h.status);

/** Orders after checkout: listing, ownership, the operators' view, cancel (refund + restock) and pay. */
for (const variant of systemVariants) {
  describe.runIf(await variant.available())(`orders API on ${variant.name}`, () => {
    let shop: Shop;
    let sku: string;
    let alice: Shopper;
    let bob: Shopper;
    /** Alice's five orders, oldest first. */
    const placed: Order[] = [];
    let bobsOrder: Order;
    let failed: Order;

    beforeAll(async () => {
      shop = await Shop.open(variant);
      sku = await shop.sku(1_000, 100, 'ORD');
      alice = await shop.register();
      bob = await shop.register();
      for (let i = 1; i <= 5; i++) placed.push(await shop.buy(alice, [[sku, i]]));
      bobsOrder = await shop.buy(bob, [[sku, 2]]);
      await shop.add(bob, sku, 1);
      const declined = await shop.checkout(bob, 'tok_declined');
      failed = expectProblem(declined, 402, 'PAYMENT_DECLINED').order as Order;
      await shop.api.delete(`/api/v1/cart/items/${sku}`, { token: bob.token });
    });
    afterAll(async () => shop?.stop());

    it('lists the caller’s orders newest first, a cursor page at a time', async () => {
      const newestFirst = [...placed].reverse().map((o) => o.id);
      const all = await shop.api.get<Page<Order>>('/api/v1/orders', { token: alice.token });
      expect(all.status).toBe(200);
      expect(all.body.items.map((o) => o.id)).toEqual(newestFirst);
      expect(all.body.nextCursor).toBeNull();
      const created = all.body.items.map((o) => Date.parse(o.createdAt));
      expect([...created].sort((x, y) => y - x)).toEqual(created);

      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      do {
        const path: string = `/api/v1/orders?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await shop.api.get<Page<Order>>(path, { token: alice.token });
        expect(page.status, page.text).toBe(200);
        sizes.push(page.body.items.length);
        seen.push(...page.body.items.map((o) => o.id));
        cursor = page.body.nextCursor;
      } while (cursor !== null && sizes.length < 10);
      expect(sizes).toEqual([2, 2, 1]);
      expect(seen).toEqual(newestFirst);
    });

    it('validates list parameters, naming them', async () => {
      const opts = { token: alice.token };
      expectFieldError(await shop.api.get('/api/v1/orders?limit=0', opts), 'limit');
      expectFieldError(await shop.api.get('/api/v1/orders?limit=101', opts), 'limit');
      expectFieldError(await shop.api.get('/api/v1/orders?cursor=not-a-cursor!!', opts), 'cursor');
      expectFieldError(await shop.api.get(`/api/v1/orders?cursor=${Buffer.from("x' or 1=1 --").toString('base64url')}`, opts), 'cursor');
      expectProblem(await shop.api.get('/api/v1/orders'), 401, 'UNAUTHENTICATED');
    });

    it('hides another user’s order behind a 404, on every route', async () => {
      const theirs = bobsOrder.id;
      expectProblem(await shop.api.get(`/api/v1/orders/${theirs}`, { token: alice.token }), 404, 'NOT_FOUND');
      expectProblem(await shop.api.post(`/api/v1/orders/${theirs}/cancel`, undefined, { token: alice.token }), 404, 'NOT_FOUND');
      expectProblem(await shop.api.post(`/api/v1/orders/${theirs}/pay`, { payment: checkoutBody('tok_visa').payment }, { token: alice.token }), 404, 'NOT_FOUND');
      expect((await shop.order(bob, theirs)).status).toBe('CONFIRMED');
      // Unknown and malformed ids do not 500.
      expectProblem(await shop.api.get('/api/v1/orders/01900000-0000-7000-8000-000000000000', { token: alice.token }), 404, 'NOT_FOUND');
      expect([400, 404]).toContain((await shop.api.get('/api/v1/orders/not-a-uuid', { token: alice.token })).status);
      expect((await shop.allOrders(alice)).map((o) => o.userId)).toEqual(placed.map(() => alice.id));
    });

    it('lets an admin see every user’s orders, filtered by status', async () => {
      const confirmed = await shop.api.get<Page<Order>>('/api/v1/admin/orders?status=CONFIRMED&limit=100', { token: shop.adminToken });
      expect(confirmed.status, confirmed.text).toBe(200);
      const ids = confirmed.body.items.map((o) => o.id);
      for (const order of [...placed, bobsOrder]) expect(ids).toContain(order.id);
      expect(new Set(confirmed.body.items.map((o) => o.userId))).toEqual(new Set([alice.id, bob.id]));
      expect(confirmed.body.items.every((o) => o.status === 'CONFIRMED')).toBe(true);
      expect(ids).not.toContain(failed.id);

      const failures = await shop.api.get<Page<Order>>('/api/v1/admin/orders?status=PAYMENT_FAILED', { token: shop.adminToken });
      expect(failures.body.items.map((o) => o.id)).toEqual([failed.id]);

      // Paged, newest first, across users.
      const first = await shop.api.get<Page<Order>>('/api/v1/admin/orders?limit=4', { token: shop.adminToken });
      expect(first.body.items.map((o) => o.id)).toEqual([failed.id, bobsOrder.id, ...[...placed].reverse().slice(0, 2).map((o) => o.id)]);
      expect(first.body.nextCursor).not.toBeNull();
      const rest = await shop.api.get<Page<Order>>(`/api/v1/admin/orders?limit=4&cursor=${encodeURIComponent(first.body.nextCursor ?? '')}`, { token: shop.adminToken });
      expect(rest.body.items.map((o) => o.id)).toEqual(placed.slice(0, 3).reverse().map((o) => o.id));
      expect(rest.body.nextCursor).toBeNull();

      // An admin may open any order by id.
      expect((await shop.api.get<Order>(`/api/v1/orders/${bobsOrder.id}`, { token: shop.adminToken })).body).toEqual(bobsOrder);
      expectFieldError(await shop.api.get('/api/v1/admin/orders?status=SHIPPED', { token: shop.adminToken }), 'status');
    });

    it('keeps the admin listing for admins: 401 anonymous, 403 customer', async () => {
      expectProblem(await shop.api.get('/api/v1/admin/orders'), 401, 'UNAUTHENTICATED');
      expectProblem(await shop.api.get('/api/v1/admin/orders?status=CONFIRMED', { token: alice.token }), 403, 'FORBIDDEN');
      const spoofed = await shop.api.get('/api/v1/admin/orders', { token: alice.token, headers: { 'x-agora-user-role': 'admin' } });
      expectProblem(spoofed, 403, 'FORBIDDEN');
    });

    it('cancels a CONFIRMED order: 200 CANCELLED, stock back on hand, the money refunded', async () => {
      const before = await shop.invariants();
      const availableBefore = await shop.available(sku);
      const order = placed[2] as Order; // 3 units, 3 000
      const res = await shop.api.post<Order>(`/api/v1/orders/${order.id}/cancel`, undefined, { token: alice.token });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ id: order.id, status: 'CANCELLED', total: order.total });
      expect(statuses(res.body)).toEqual(['PENDING', 'RESERVED', 'CONFIRMED', 'CANCELLED']);
      expect(await shop.order(alice, order.id)).toEqual(res.body);

      expect(await shop.available(sku)).toBe(availableBefore + 3);
      const after = await shop.invariants();
      expect(after.violations).toEqual([]);
      expect(after.refunded - before.refunded).toBe(order.total.amount);
      expect(after.captured).toBe(before.captured);
      expect(after.captured - after.refunded).toBe(after.confirmedTotal);
      expect(after.confirmedTotal).toBe(before.confirmedTotal - order.total.amount);
    });

    it('answers a second cancel of a CANCELLED order with 200 and the same order, refunding and restocking once', async () => {
      const order = placed[2] as Order;
      const before = await shop.invariants();
      const availableBefore = await shop.available(sku);
      const first = await shop.order(alice, order.id);
      const again = await shop.api.post<Order>(`/api/v1/orders/${order.id}/cancel`, undefined, { token: alice.token });
      expect(again.status, again.text).toBe(200);
      expect(again.body).toEqual(first);
      expect(await shop.available(sku)).toBe(availableBefore);
      expect((await shop.invariants()).refunded).toBe(before.refunded);
    });

    it('cancels once when the shopper clicks cancel many times at once', async () => {
      const order = placed[3] as Order; // 4 units
      const before = await shop.invariants();
      const availableBefore = await shop.available(sku);
      const answers = await Promise.all(Array.from({ length: 5 }, () => shop.api.post<Order>(`/api/v1/orders/${order.id}/cancel`, undefined, { token: alice.token })));
      for (const answer of answers) {
        expect(answer.status, answer.text).toBe(200);
        expect(answer.body.status).toBe('CANCELLED');
      }
      expect(await shop.available(sku)).toBe(availableBefore + 4);
      const after = await shop.invariants();
      expect(after.violations).toEqual([]);
      expect(after.refunded - before.refunded).toBe(order.total.amount);
    });

    it('refuses to cancel an order that failed: 409', async () => {
      const res = await shop.api.post(`/api/v1/orders/${failed.id}/cancel`, undefined, { token: bob.token });
      const problem = expectProblem(res, 409, 'CONFLICT');
      expect(problem.order?.status).toBe('PAYMENT_FAILED');
      expect((await shop.order(bob, failed.id)).status).toBe('PAYMENT_FAILED');

      const rejected = await shop.register();
      const scarce = await shop.sku(100, 1, 'ORD-SCARCE');
      await shop.add(rejected, scarce, 2);
      const oos = expectProblem(await shop.checkout(rejected, 'tok_visa'), 409, 'OUT_OF_STOCK').order as Order;
      expectProblem(await shop.api.post(`/api/v1/orders/${oos.id}/cancel`, undefined, { token: rejected.token }), 409, 'CONFLICT');
      expect(await shop.available(scarce)).toBe(1);
    });

    it('refuses to pay an order that is not awaiting payment: 409', async () => {
      const order = placed[0] as Order;
      const res = await shop.api.post(`/api/v1/orders/${order.id}/pay`, { payment: checkoutBody('tok_visa').payment }, { token: alice.token });
      expectProblem(res, 409, 'CONFLICT');
      expectProblem(await shop.api.post(`/api/v1/orders/${failed.id}/pay`, { payment: checkoutBody('tok_visa').payment }, { token: bob.token }), 409, 'CONFLICT');
      expectFieldError(await shop.api.post(`/api/v1/orders/${order.id}/pay`, {}, { token: alice.token }), 'payment');
      expect(await shop.order(alice, order.id)).toEqual(order);
    });

    it('leaves the conservation laws intact', async () => {
      const report = await shop.expectInvariants();
      expect(report.ordersByStatus.CANCELLED).toBe(2);
      expect(report.refunded).toBe(3_000 + 4_000);
    });
  });
}
