import { png } from '../support/png.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '@agora/kernel';
import { testBackends } from '@agora/platform/testing';
import { ADMIN, startSystem, type RunningSystem } from '../support/system.js';
import { Api, uniqueEmail } from '../support/http.js';
import { expectFieldError, expectProblem } from '../support/shop.js';

interface ProductImage {
  src: string;
  srcset: string;
  width: number;
  height: number;
  alt: string;
  generated: boolean;
}
interface Product {
  id: string;
  name: string;
  category: string;
  image: ProductImage;
  variants: { sku: string; price: { amount: number; currency: string }; available: number }[];
}

/** The file at an image URL, as bytes, with its headers. */
async function file(baseUrl: string, url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const response = await fetch(`${baseUrl}${url}`, { headers });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

/**
 * Product images and related products through the gateway over HTTP, on every backend
 * (docs/catalog.md): the drawn picture of a product without an upload, an admin's upload kept in
 * several widths as WebP and served with year-long cache headers, the upload's refusals, and the
 * products nearest in price within a category.
 */
for (const backend of testBackends) {
  describe.runIf(await backend.available())(`catalog images and related products on ${backend.kind}`, () => {
    let system: RunningSystem;
    let api: Api;
    let adminToken: string;
    const suffix = Math.random().toString(36).slice(2, 8);
    const category = `images-${suffix}`;
    const ids: string[] = [];

    const create = async (name: string, price: number): Promise<Product> => {
      const variants = [{ sku: `IMG-${suffix}-${ids.length}`.toUpperCase(), title: 'One', price: { amount: price, currency: 'USD' } }];
      const res = await api.post<Product>('/api/v1/admin/products', { name, description: 'For the image tests', category, variants }, { token: adminToken });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      ids.push(res.body.id);
      return res.body;
    };
    const upload = (id: string, body: Record<string, unknown>, token = adminToken) => api.put<Product>(`/api/v1/admin/products/${id}/image`, body, { token });

    beforeAll(async () => {
      system = await startSystem(backend);
      api = new Api(system.baseUrl);
      const login = await api.post<{ token: string }>('/api/v1/auth/login', ADMIN);
      expect(login.status).toBe(200);
      adminToken = login.body.token;
      for (const [name, price] of [
        ['Teapot Classic', 3000],
        ['Teapot Small', 2800],
        ['Teapot Grand', 9000],
        ['Teapot Travel', 3300],
        ['Teapot Budget', 500],
      ] as const)
        await create(name, price);
    });
    afterAll(async () => system?.stop());

    it('draws a picture for a product without an upload: SVG, immutable, the same bytes each time, 304 on its ETag', async () => {
      const product = (await api.get<Product>(`/api/v1/products/${ids[0]}`)).body;
      expect(product.image).toMatchObject({ generated: true, srcset: '', alt: 'Teapot Classic', width: 800, height: 800 });
      const first = await file(system.baseUrl, product.image.src);
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      expect(first.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(first.bytes.toString()).toContain('<svg');
      expect(first.bytes.toString()).toContain('>TC<');
      expect((await file(system.baseUrl, product.image.src)).bytes.equals(first.bytes)).toBe(true);
      const etag = first.headers.get('etag') ?? '';
      expect((await file(system.baseUrl, product.image.src, { 'if-none-match': etag })).status).toBe(304);
      // Another product draws another picture; a renamed product gets a new URL and the old one is gone.
      const other = (await api.get<Product>(`/api/v1/products/${ids[1]}`)).body;
      expect(other.image.src).not.toBe(product.image.src);
      const renamed = await api.patch<Product>(`/api/v1/admin/products/${ids[0]}`, { name: 'Teapot Classic II' }, { token: adminToken });
      expect(renamed.body.image.src).not.toBe(product.image.src);
      expect((await file(system.baseUrl, product.image.src)).status).toBe(404);
      expect((await file(system.baseUrl, renamed.body.image.src)).status).toBe(200);
    });

    it('keeps an upload in every width up to its own as WebP, served with long cache headers', async () => {
      const id = ids[2] ?? '';
      const res = await upload(id, { contentType: 'image/png', data: png(900, 600).toString('base64'), alt: 'A grand teapot, steaming' });
      expect(res.status, res.text).toBe(200);
      const image = res.body.image;
      expect(image).toMatchObject({ generated: false, alt: 'A grand teapot, steaming', width: 900, height: 600 });
      const widths = image.srcset.split(', ').map((entry) => entry.split(' '));
      expect(widths.map(([, w]) => w)).toEqual(['320w', '640w', '900w']);
      expect(widths.at(-1)?.[0]).toBe(image.src);
      // Every variant carries its availability like any product answer, and reads show the image.
      expect(res.body.variants[0]?.available).toBeTypeOf('number');
      expect((await api.get<Product>(`/api/v1/products/${id}`)).body.image.src).toBe(image.src);
      for (const [url, w] of widths) {
        const got = await file(system.baseUrl, url ?? '');
        expect(got.status).toBe(200);
        expect(got.headers.get('content-type')).toBe('image/webp');
        expect(got.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(got.headers.get('etag')).toBeTruthy();
        expect(got.bytes.subarray(0, 4).toString('ascii')).toBe('RIFF');
        expect(got.bytes.subarray(8, 12).toString('ascii')).toBe('WEBP');
        // VP8 (lossy) stores the width in the frame header: the file is the width its URL names.
        expect(got.bytes.readUInt16LE(26) & 0x3fff).toBe(Number(w?.replace('w', '')));
      }
      // A new upload replaces the files: the old URLs answer 404, the new ones the new image.
      const again = await upload(id, { contentType: 'image/png', data: png(200, 100).toString('base64') });
      expect(again.status, again.text).toBe(200);
      expect(again.body.image).toMatchObject({ width: 200, height: 100, alt: 'Teapot Grand', srcset: `${again.body.image.src} 200w` });
      expect((await file(system.baseUrl, image.src)).status).toBe(404);
      expect((await file(system.baseUrl, again.body.image.src)).status).toBe(200);
    });

    it('refuses a wrong type, bytes of another type, too many bytes and a non-admin, naming the field', async () => {
      const id = ids[3] ?? '';
      const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'binary').toString('base64');
      const wrongType = await upload(id, { contentType: 'image/gif', data: gif });
      expect(expectProblem(wrongType, 415, 'UNSUPPORTED_MEDIA_TYPE').errors?.map((e) => e.path)).toEqual(['contentType']);
      const notPng = await upload(id, { contentType: 'image/png', data: gif });
      expect(expectProblem(notPng, 415, 'UNSUPPORTED_MEDIA_TYPE').errors?.map((e) => e.path)).toEqual(['data']);
      const jpegClaimingPng = await upload(id, { contentType: 'image/jpeg', data: png(10, 10).toString('base64') });
      expect(expectProblem(jpegClaimingPng, 415, 'UNSUPPORTED_MEDIA_TYPE').errors?.map((e) => e.path)).toEqual(['data']);
      const tooBig = await upload(id, { contentType: 'image/png', data: Buffer.alloc(LIMITS.productImageBytes + 1).toString('base64') });
      expect(expectProblem(tooBig, 413, 'PAYLOAD_TOO_LARGE').errors?.map((e) => e.path)).toEqual(['data']);
      expectFieldError(await upload(id, { contentType: 'image/png' }), 'data');
      const shopper = await api.post<{ token: string }>('/api/v1/auth/register', { email: uniqueEmail('images'), password: 'shopper-password-1', name: 'Sam' });
      expect(shopper.status).toBe(201);
      expectProblem(await upload(id, { contentType: 'image/png', data: png(10, 10).toString('base64') }, shopper.body.token), 403, 'FORBIDDEN');
      expectProblem(await upload('0190c6d2-7a1e-7c3b-9d4e-5f6a7b8c9d0e', { contentType: 'image/png', data: png(10, 10).toString('base64') }), 404, 'NOT_FOUND');
      // Nothing refused was kept: the product still shows its drawn picture.
      expect((await api.get<Product>(`/api/v1/products/${id}`)).body.image.generated).toBe(true);
    });

    it('relates products of the same category nearest in price, never the product itself, bounded', async () => {
      const res = await api.get<{ items: Product[] }>(`/api/v1/products/${ids[0]}/related?limit=3`);
      expect(res.status, res.text).toBe(200);
      // Teapot Classic is 30.00: Small (28.00, 2.00 away), Travel (33.00, 3.00), Budget (5.00, 25.00); Grand (90.00) is farthest.
      expect(res.body.items.map((p) => p.name)).toEqual(['Teapot Small', 'Teapot Travel', 'Teapot Budget']);
      expect(res.body.items.every((p) => p.category === category && typeof p.variants[0]?.available === 'number' && p.image.src.length > 0)).toBe(true);
      expect((await api.get<{ items: Product[] }>(`/api/v1/products/${ids[0]}/related`)).body.items).toHaveLength(4);
      expectFieldError(await api.get(`/api/v1/products/${ids[0]}/related?limit=0`), 'limit');
      expectFieldError(await api.get(`/api/v1/products/${ids[0]}/related?limit=13`), 'limit');
      expectProblem(await api.get('/api/v1/products/0190c6d2-7a1e-7c3b-9d4e-5f6a7b8c9d0e/related'), 404, 'NOT_FOUND');
    });
  });
}
