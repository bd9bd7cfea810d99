/**
 * Product images, the rules without the codecs: what an upload's first bytes say it is and how big
 * it claims to be (read before anything is decoded), which widths it is kept in, the picture drawn
 * for a product without an upload, and the URLs of both. Pure: no I/O, no image library.
 */
import { AppError, LIMITS } from '@agora/kernel';
import { catalog } from '@agora/contracts';

/** An uploaded image as the catalog keeps it: its version (a digest of the upload) names its files. */
export interface StoredImage {
  version: string;
  alt: string;
  /** The widths kept, ascending; the last is `width`. */
  widths: number[];
  /** Size of the widest file. */
  width: number;
  height: number;
}

/** What an upload's header says: its type and its size in pixels. */
export interface ImageHeader {
  type: catalog.ProductImageType;
  width: number;
  height: number;
}

/** The side of a drawn picture (it is SVG: any size renders sharp; this is the aspect ratio it reserves). */
export const GENERATED_IMAGE_SIZE = 800;

/** Hex digits of an image version (64 bits of a digest: unique among one product's uploads and names). */
export const IMAGE_VERSION_CHARS = 16;

const unsupported = (path: string, message: string): AppError => new AppError('UNSUPPORTED_MEDIA_TYPE', `${path}: ${message}`, { errors: [{ path, message }] });

/** The declared type, checked: one of PNG, JPEG, WebP, else 415 naming `contentType`. */
export function checkedImageType(contentType: string): catalog.ProductImageType {
  const type = catalog.PRODUCT_IMAGE_TYPES.find((t) => t === contentType.trim().toLowerCase());
  if (type === undefined) throw unsupported('contentType', `must be one of ${catalog.PRODUCT_IMAGE_TYPES.join(', ')}`);
  return type;
}

/** The decoded size of a base64 text, without decoding it. */
export function base64Bytes(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

/** 413 naming `data` when the upload is over `LIMITS.productImageBytes`. */
export function checkImageBytes(bytes: number): void {
  if (bytes > LIMITS.productImageBytes) {
    const message = `must be at most ${LIMITS.productImageBytes} bytes (${Math.round(LIMITS.productImageBytes / 1024 / 1024)} MiB); this image is ${bytes} bytes`;
    throw new AppError('PAYLOAD_TOO_LARGE', `data: ${message}`, { errors: [{ path: 'data', message }] });
  }
}

/**
 * The type and size an upload's header states, checked against the declared type and the pixel
 * limit before a byte is decoded (a small file can claim a huge image). 415 naming `data` when the
 * bytes are not an image of the declared type; 413 naming `data` when it has too many pixels.
 */
export function readImageHeader(bytes: Uint8Array, declared: catalog.ProductImageType): ImageHeader {
  const header = sniff(bytes);
  if (header === undefined) throw unsupported('data', `is not a ${declared} image`);
  if (header.type !== declared) throw unsupported('data', `is a ${header.type} image, not ${declared} as contentType says`);
  if (header.width < 1 || header.height < 1) throw unsupported('data', 'states an image of no pixels');
  if (header.width * header.height > LIMITS.productImagePixels) {
    const message = `must be at most ${LIMITS.productImagePixels} pixels; this image is ${header.width}×${header.height}`;
    throw new AppError('PAYLOAD_TOO_LARGE', `data: ${message}`, { errors: [{ path: 'data', message }] });
  }
  return header;
}

function sniff(b: Uint8Array): ImageHeader | undefined {
  const u16be = (i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
  const u16le = (i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);
  const u24le = (i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16);
  const u32be = (i: number) => (((b[i] ?? 0) << 24) >>> 0) + (((b[i + 1] ?? 0) << 16) | ((b[i + 2] ?? 0) << 8) | (b[i + 3] ?? 0));
  const ascii = (i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n));
  // PNG: the signature, then IHDR with width and height.
  if (b.length >= 24 && b[0] === 0x89 && ascii(1, 3) === 'PNG' && ascii(12, 4) === 'IHDR') {
    return { type: 'image/png', width: u32be(16), height: u32be(20) };
  }
  // JPEG: SOI, then segments until a start-of-frame (SOF0..SOF15 but DHT, JPG, DAC) gives the size.
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return undefined;
      const marker = b[i + 1] ?? 0;
      if (marker === 0xff) {
        i += 1;
        continue;
      }
      const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isFrame) return { type: 'image/jpeg', width: u16be(i + 7), height: u16be(i + 5) };
      i += 2 + u16be(i + 2);
    }
    return undefined;
  }
  // WebP: RIFF....WEBP, then a lossy (VP8), lossless (VP8L) or extended (VP8X) chunk with the size.
  if (b.length >= 30 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const chunk = ascii(12, 4);
    if (chunk === 'VP8 ') return { type: 'image/webp', width: u16le(26) & 0x3fff, height: u16le(28) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = (b[21] ?? 0) | ((b[22] ?? 0) << 8) | ((b[23] ?? 0) << 16) | ((b[24] ?? 0) << 24);
      return { type: 'image/webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') return { type: 'image/webp', width: u24le(24) + 1, height: u24le(27) + 1 };
  }
  return undefined;
}

/** The widths an image of `width` pixels is kept in: each standard width below it, and at most the largest. */
export function widthsFor(width: number): number[] {
  const largest = Math.min(width, catalog.PRODUCT_IMAGE_WIDTHS[catalog.PRODUCT_IMAGE_WIDTHS.length - 1] ?? width);
  return [...catalog.PRODUCT_IMAGE_WIDTHS.filter((w) => w < largest), largest];
}

/** The height of `width` in an image of `fullWidth` × `fullHeight`, at least one pixel. */
export function heightAt(width: number, fullWidth: number, fullHeight: number): number {
  return Math.max(1, Math.round((fullHeight * width) / fullWidth));
}

/** FNV-1a, 64 bits, as hex: a stable digest of a drawn picture's inputs (not a security boundary). */
function fnv64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(IMAGE_VERSION_CHARS, '0');
}

interface Drawn {
  id: string;
  name: string;
  category: string;
}

/** The version of a product's drawn picture: it changes when the name or category does, so its URL is immutable. */
export function generatedVersion(product: Drawn): string {
  return fnv64(`${product.id}\u0000${product.name}\u0000${product.category}`);
}

/** The file name of each kind of image file, as `ImageFileParams.file` takes it. */
export const generatedFile = (version: string): string => `g-${version}.svg`;
export const uploadedFile = (version: string, width: number): string => `${version}-${width}.webp`;

/** The image a product's answer carries: its upload in every kept width, else its drawn picture. */
export function productImage(product: Drawn & { image?: StoredImage | undefined }): catalog.ProductImage {
  const image = product.image;
  if (image === undefined) {
    const src = catalog.productImagePath(product.id, generatedFile(generatedVersion(product)));
    return { src, srcset: '', width: GENERATED_IMAGE_SIZE, height: GENERATED_IMAGE_SIZE, alt: product.name, generated: true };
  }
  const url = (w: number) => catalog.productImagePath(product.id, uploadedFile(image.version, w));
  return {
    src: url(image.width),
    srcset: image.widths.map((w) => `${url(w)} ${w}w`).join(', '),
    width: image.width,
    height: image.height,
    alt: image.alt,
    generated: false,
  };
}

const escapeXml = (text: string): string => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Words of a name that start with a letter or digit, for the initials. */
const initialsOf = (name: string): string =>
  name
    .split(/\s+/)
    .filter((word) => /^[\p{L}\p{N}]/u.test(word))
    .slice(0, 2)
    .map((word) => [...word][0]?.toUpperCase() ?? '')
    .join('');

/**
 * A product's drawn picture: a two-tone gradient whose hue comes from the category and whose shade
 * and pattern come from the id, with the name's initials and the category. The same product always
 * gets the same bytes; nothing is fetched or stored.
 */
export function generatedSvg(product: Drawn): string {
  const digest = fnv64(product.id);
  const categoryHue = Number.parseInt(fnv64(product.category).slice(0, 4), 16) % 360;
  const shift = (Number.parseInt(digest.slice(0, 2), 16) % 40) - 20;
  const hue = (categoryHue + shift + 360) % 360;
  const accent = (hue + 40) % 360;
  const rings = 3 + (Number.parseInt(digest.slice(2, 3), 16) % 4);
  const cx = 200 + (Number.parseInt(digest.slice(3, 5), 16) % 400);
  const cy = 200 + (Number.parseInt(digest.slice(5, 7), 16) % 400);
  const size = GENERATED_IMAGE_SIZE;
  const circles = Array.from({ length: rings }, (_, i) => `<circle cx="${cx}" cy="${cy}" r="${90 + i * 85}" fill="none" stroke="#fff" stroke-opacity="${(0.22 - i * 0.03).toFixed(2)}" stroke-width="26"/>`).join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" role="img" aria-label="${escapeXml(product.name)}">` +
    `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue} 62% 58%)"/><stop offset="1" stop-color="hsl(${accent} 58% 34%)"/></linearGradient></defs>` +
    `<rect width="${size}" height="${size}" fill="url(#g)"/>${circles}` +
    `<text x="50%" y="50%" dy="0.35em" text-anchor="middle" font-family="system-ui, sans-serif" font-size="260" font-weight="700" fill="#fff" fill-opacity="0.92">${escapeXml(initialsOf(product.name))}</text>` +
    `<text x="50%" y="${size - 60}" text-anchor="middle" font-family="system-ui, sans-serif" font-size="40" letter-spacing="6" fill="#fff" fill-opacity="0.8">${escapeXml(product.category.toUpperCase())}</text>` +
    `</svg>`
  );
}
