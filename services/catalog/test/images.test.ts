import { describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { AppError, LIMITS } from '@agora/kernel';
import { base64Bytes, checkImageBytes, checkedImageType, generatedSvg, generatedVersion, heightAt, productImage, readImageHeader, widthsFor } from '../src/domain/image.js';
import { decodeImage, encodeWebpFile, resize, type Pixels } from '../src/app/image-codec.js';
import { IMAGE_JOBS_AT_ONCE, IMAGE_JOBS_WAITING_MAX, processImage } from '../src/app/image-processing.js';

/** A solid image: every pixel `rgba`. */
function solid(width: number, height: number, rgba: readonly number[]): Pixels {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set(rgba, i);
  return { data, width, height };
}

function pngOf(pixels: Pixels): Uint8Array {
  const png = new PNG({ width: pixels.width, height: pixels.height });
  png.data = Buffer.from(pixels.data);
  return PNG.sync.write(png);
}

/** The code and field of the AppError `run` throws. */
function refusal(run: () => unknown): { code: string; paths: string[] } {
  try {
    run();
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { code: err.code, paths: (err.errors ?? []).map((e) => e.path) };
  }
  throw new Error('nothing was refused');
}

describe('reading an upload before decoding it', () => {
  it('reads type and size from PNG, JPEG and WebP headers', async () => {
    const pixels = solid(37, 21, [10, 200, 30, 255]);
    expect(readImageHeader(pngOf(pixels), 'image/png')).toEqual({ type: 'image/png', width: 37, height: 21 });
    const jpg = jpeg.encode({ data: Buffer.from(pixels.data), width: 37, height: 21 }, 80).data;
    expect(readImageHeader(jpg, 'image/jpeg')).toEqual({ type: 'image/jpeg', width: 37, height: 21 });
    const webp = await encodeWebpFile(pixels);
    expect(readImageHeader(webp, 'image/webp')).toEqual({ type: 'image/webp', width: 37, height: 21 });
  });

  it('refuses another type, bytes of another type, and too many bytes or pixels, naming the field', () => {
    expect(refusal(() => checkedImageType('image/gif'))).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', paths: ['contentType'] });
    expect(checkedImageType(' Image/PNG ')).toBe('image/png');
    const png = pngOf(solid(2, 2, [0, 0, 0, 255]));
    expect(refusal(() => readImageHeader(png, 'image/webp'))).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', paths: ['data'] });
    expect(refusal(() => readImageHeader(new TextEncoder().encode('GIF89a and more bytes than a header'), 'image/png'))).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE', paths: ['data'] });
    // A valid header claiming 50,000 × 50,000 pixels: refused before anything is decoded.
    const bomb = Buffer.from(png);
    bomb.writeUInt32BE(50_000, 16);
    bomb.writeUInt32BE(50_000, 20);
    expect(refusal(() => readImageHeader(bomb, 'image/png'))).toEqual({ code: 'PAYLOAD_TOO_LARGE', paths: ['data'] });
    expect(refusal(() => checkImageBytes(LIMITS.productImageBytes + 1))).toEqual({ code: 'PAYLOAD_TOO_LARGE', paths: ['data'] });
    expect(() => checkImageBytes(LIMITS.productImageBytes)).not.toThrow();
  });

  it('computes the decoded size of base64 without decoding it', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 1000]) expect(base64Bytes(Buffer.alloc(n).toString('base64'))).toBe(n);
  });
});

describe('widths and resizing', () => {
  it('keeps the standard widths below the image and never enlarges it', () => {
    expect(widthsFor(3000)).toEqual([320, 640, 1280]);
    expect(widthsFor(1280)).toEqual([320, 640, 1280]);
    expect(widthsFor(900)).toEqual([320, 640, 900]);
    expect(widthsFor(320)).toEqual([320]);
    expect(widthsFor(100)).toEqual([100]);
    expect(heightAt(320, 1000, 750)).toBe(240);
    expect(heightAt(1, 1000, 10)).toBe(1);
  });

  it('averages the pixels each target pixel covers, weighting colour by alpha', () => {
    // Left half red, right half blue: halving the width gives one red and one blue column.
    const source = solid(4, 2, [255, 0, 0, 255]);
    for (const i of [2, 3, 6, 7]) source.data.set([0, 0, 255, 255], i * 4);
    const half = resize(source, 2, 1);
    expect([...half.data]).toEqual([255, 0, 0, 255, 0, 0, 255, 255]);
    // One pixel from red and blue: purple. From opaque white and transparent black: white at half alpha.
    expect([...resize(source, 1, 1).data]).toEqual([128, 0, 128, 255]);
    const faded = solid(2, 1, [255, 255, 255, 255]);
    faded.data.set([0, 0, 0, 0], 4);
    expect([...resize(faded, 1, 1).data]).toEqual([255, 255, 255, 128]);
    // A non-integer ratio still covers every source pixel once.
    const third = resize(solid(3, 3, [90, 90, 90, 255]), 2, 2);
    expect([...third.data]).toEqual([...solid(2, 2, [90, 90, 90, 255]).data]);
    expect(() => resize(source, 8, 2)).toThrow(RangeError);
  });

  it('decodes PNG, JPEG and WebP to the same size, and encodes WebP that decodes back', async () => {
    const pixels = solid(64, 48, [200, 100, 50, 255]);
    for (const [type, bytes] of [
      ['image/png', pngOf(pixels)],
      ['image/jpeg', jpeg.encode({ data: Buffer.from(pixels.data), width: 64, height: 48 }, 90).data],
      ['image/webp', await encodeWebpFile(pixels)],
    ] as const) {
      const decoded = await decodeImage(bytes, type);
      expect([decoded.width, decoded.height], type).toEqual([64, 48]);
      // Lossy codecs come close to the colour, not exactly.
      expect(Math.abs((decoded.data[0] ?? 0) - 200), type).toBeLessThan(8);
    }
    await expect(decodeImage(pngOf(pixels).subarray(0, 60), 'image/png')).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });
});

describe('processing uploads in a worker thread', () => {
  it('answers the kept widths, and a file that does not decode as the same 415 naming data', async () => {
    const processed = await processImage(pngOf(solid(700, 350, [20, 40, 60, 255])), 'image/png');
    expect({ width: processed.width, height: processed.height, widths: processed.files.map((f) => f.width) }).toEqual({ width: 700, height: 350, widths: [320, 640, 700] });
    for (const file of processed.files) expect(readImageHeader(file.bytes, 'image/webp')).toEqual({ type: 'image/webp', width: file.width, height: heightAt(file.width, 700, 350) });
    const truncated = pngOf(solid(50, 50, [0, 0, 0, 255])).subarray(0, 60);
    await expect(processImage(truncated, 'image/png')).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', errors: [{ path: 'data' }] });
  });

  it('runs a bounded number at once, queues a bounded number, and refuses the next with UNAVAILABLE', async () => {
    const png = pngOf(solid(400, 300, [90, 90, 90, 255]));
    const jobs = Array.from({ length: IMAGE_JOBS_AT_ONCE + IMAGE_JOBS_WAITING_MAX + 1 }, () => processImage(png, 'image/png').then(() => 'done', (err: unknown) => (err as AppError).code));
    const outcomes = await Promise.all(jobs);
    expect(outcomes.filter((o) => o === 'done')).toHaveLength(IMAGE_JOBS_AT_ONCE + IMAGE_JOBS_WAITING_MAX);
    expect(outcomes.at(-1)).toBe('UNAVAILABLE');
  });
});

describe('the drawn picture', () => {
  const product = { id: '0190c6d2-7a1e-7c3b-9d4e-5f6a7b8c9d0e', name: 'Tea <script>alert(1)</script> & "Co"', category: 'kitchen' };

  it('is the same for the same product, another for another name or category, and escapes the text', () => {
    expect(generatedSvg(product)).toBe(generatedSvg({ ...product }));
    expect(generatedVersion({ ...product, name: 'Other' })).not.toBe(generatedVersion(product));
    expect(generatedVersion({ ...product, category: 'garden' })).not.toBe(generatedVersion(product));
    const svg = generatedSvg(product);
    expect(svg).not.toContain('<script');
    expect(svg).toContain('aria-label="Tea &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;Co&#34;"');
    expect(svg).toContain('>KITCHEN<');
  });

  it('is what a product without an upload answers; an upload answers its widths', () => {
    expect(productImage(product)).toEqual({
      src: `/api/v1/products/${product.id}/images/g-${generatedVersion(product)}.svg`,
      srcset: '',
      width: 800,
      height: 800,
      alt: product.name,
      generated: true,
    });
    const image = { version: 'abcdef0123456789', alt: 'A teapot', widths: [320, 640], width: 640, height: 480 };
    expect(productImage({ ...product, image })).toEqual({
      src: `/api/v1/products/${product.id}/images/abcdef0123456789-640.webp`,
      srcset: `/api/v1/products/${product.id}/images/abcdef0123456789-320.webp 320w, /api/v1/products/${product.id}/images/abcdef0123456789-640.webp 640w`,
      width: 640,
      height: 480,
      alt: 'A teapot',
      generated: false,
    });
  });
});
