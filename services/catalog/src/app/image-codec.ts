import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import decodeWebp, { init as initWebpDecoder } from '@jsquash/webp/decode.js';
import encodeWebp, { init as initWebpEncoder } from '@jsquash/webp/encode.js';
import { AppError, LIMITS } from '@agora/kernel';
import type { catalog } from '@agora/contracts';

/**
 * Decoding, resizing and encoding of uploads, in JavaScript and WebAssembly shipped inside the npm
 * packages (pngjs, jpeg-js, libwebp's wasm build): nothing native, nothing fetched, the same on
 * every machine. Runs only on an admin's upload, once per kept width.
 */

/** RGBA pixels, 4 bytes each, row by row. */
export interface Pixels {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** WebP quality of the kept widths: photos look as uploaded at a fraction of a PNG's bytes. */
const WEBP_QUALITY = 82;
/**
 * The most memory jpeg-js may take for one decode, as it counts it: its output (4 bytes a pixel),
 * its per-component working blocks (up to 3 components padded to whole 8 × 8 blocks, 2 bytes a
 * sample), its 1-byte output planes and a copy while it converts colour — about 19 bytes a pixel,
 * plus block padding and tables. At 24 a 25-megapixel JPEG (the pixel limit) decodes; at 4 (the
 * first guess) a 12-megapixel photo was refused. The header check refuses more pixels before this.
 */
const JPEG_BYTES_PER_PIXEL = 24;
const JPEG_MAX_MEMORY_MB = Math.ceil((LIMITS.productImagePixels * JPEG_BYTES_PER_PIXEL) / 1024 / 1024) + 64;

const require = createRequire(import.meta.url);
/** Node's WebAssembly (the project's TypeScript libs declare no DOM, where its type lives). */
type WasmModule = Parameters<typeof initWebpDecoder>[0];
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;
let webpReady: Promise<void> | undefined;

/** Compiles libwebp's decoder and encoder once per process, from the files the package ships. */
function webp(): Promise<void> {
  webpReady ??= (async () => {
    const [decoder, encoder] = await Promise.all([
      readFile(require.resolve('@jsquash/webp/codec/dec/webp_dec.wasm')).then((bytes) => wasm.compile(bytes)),
      readFile(require.resolve('@jsquash/webp/codec/enc/webp_enc.wasm')).then((bytes) => wasm.compile(bytes)),
    ]);
    await Promise.all([initWebpDecoder(decoder), initWebpEncoder(encoder as Parameters<typeof initWebpEncoder>[0])]);
  })();
  return webpReady;
}

const undecodable = (type: string, err: unknown): AppError => {
  const message = `could not be read as ${type} (${err instanceof Error ? err.message : String(err)})`.slice(0, 300);
  return new AppError('UNSUPPORTED_MEDIA_TYPE', `data: ${message}`, { errors: [{ path: 'data', message }], cause: err });
};

/** The pixels of an upload whose header was already checked (type and pixel count). 415 naming `data` when they cannot be read. */
export async function decodeImage(bytes: Uint8Array, type: catalog.ProductImageType): Promise<Pixels> {
  try {
    switch (type) {
      case 'image/png': {
        const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        return { data: new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.byteLength), width: png.width, height: png.height };
      }
      case 'image/jpeg': {
        const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: LIMITS.productImagePixels / 1_000_000, maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB });
        return { data: new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.byteLength), width: image.width, height: image.height };
      }
      case 'image/webp': {
        await webp();
        const image = await decodeWebp(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
        return { data: image.data, width: image.width, height: image.height };
      }
    }
  } catch (err) {
    throw undecodable(type, err);
  }
}

/**
 * The image at `width` × `height` (never larger than it is): each target pixel is the average of the
 * source pixels it covers, weighted by how much of each it covers (box filtering: sharp enough for
 * downscaling photos, no ringing), with colour weighted by alpha so transparent edges do not darken.
 */
export function resize(source: Pixels, width: number, height: number): Pixels {
  if (width === source.width && height === source.height) return source;
  if (width > source.width || height > source.height) throw new RangeError(`resize only shrinks: ${source.width}×${source.height} to ${width}×${height}`);
  const out = new Uint8ClampedArray(width * height * 4);
  const sx = source.width / width;
  const sy = source.height / height;
  for (let y = 0; y < height; y++) {
    const y0 = y * sy;
    const y1 = y0 + sy;
    for (let x = 0; x < width; x++) {
      const x0 = x * sx;
      const x1 = x0 + sx;
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      let area = 0;
      for (let yy = Math.floor(y0); yy < Math.min(source.height, Math.ceil(y1)); yy++) {
        const wy = Math.min(y1, yy + 1) - Math.max(y0, yy);
        for (let xx = Math.floor(x0); xx < Math.min(source.width, Math.ceil(x1)); xx++) {
          const w = (Math.min(x1, xx + 1) - Math.max(x0, xx)) * wy;
          const i = (yy * source.width + xx) * 4;
          const alpha = (source.data[i + 3] ?? 0) * w;
          r += (source.data[i] ?? 0) * alpha;
          g += (source.data[i + 1] ?? 0) * alpha;
          b += (source.data[i + 2] ?? 0) * alpha;
          a += alpha;
          area += w;
        }
      }
      const o = (y * width + x) * 4;
      if (a > 0) {
        out[o] = r / a;
        out[o + 1] = g / a;
        out[o + 2] = b / a;
      }
      out[o + 3] = area > 0 ? a / area : 0;
    }
  }
  return { data: out, width, height };
}

/** The pixels as a lossy WebP file. */
export async function encodeWebpFile(pixels: Pixels): Promise<Uint8Array> {
  await webp();
  const encoded = await encodeWebp({ data: pixels.data, width: pixels.width, height: pixels.height, colorSpace: 'srgb' }, { quality: WEBP_QUALITY });
  return new Uint8Array(encoded);
}
