import { createHash } from 'node:crypto';
import { LIMITS, notFound, type Clock } from '@agora/kernel';
import type { catalog } from '@agora/contracts';
import {
  IMAGE_VERSION_CHARS,
  base64Bytes,
  checkImageBytes,
  checkedImageType,
  generatedSvg,
  generatedVersion,
  heightAt,
  readImageHeader,
  type StoredImage,
} from '../domain/image.js';
import { processImage } from './image-processing.js';
import { toCatalogProduct } from './catalog-service.js';
import type { CatalogRepository, ImageFileData } from './ports.js';

const GENERATED_FILE = /^g-([0-9a-f]{16})\.svg$/;
const UPLOADED_FILE = /^([0-9a-f]{16})-([0-9]{1,4})\.webp$/;

/**
 * Product images: an admin's upload, checked (type, bytes, pixels) before it is decoded and kept
 * in every width of `PRODUCT_IMAGE_WIDTHS` it reaches, as WebP; and the files a page loads, the
 * uploads' from the database and the drawn pictures made on the spot (docs/catalog.md).
 */
export class ProductImages {
  constructor(
    private readonly repository: CatalogRepository,
    private readonly clock: Clock,
    /** Told the product whose image changed once the change committed or failed (the storefront caches drop it). */
    private readonly afterWrite: (ids: string[]) => Promise<void>,
  ) {}

  async upload(productId: string, body: catalog.UploadProductImageBody): Promise<catalog.CatalogProduct> {
    const id = productId.toLowerCase();
    const type = checkedImageType(body.contentType);
    checkImageBytes(base64Bytes(body.data));
    const bytes = Buffer.from(body.data, 'base64');
    checkImageBytes(bytes.byteLength);
    const header = readImageHeader(bytes, type);
    const product = await this.repository.get(id);
    if (!product) throw notFound(`Product ${productId}`);
    const processed = await processImage(bytes, type);
    const widths = processed.files.map((f) => f.width);
    const files: ImageFileData[] = processed.files;
    const largest = widths[widths.length - 1] ?? header.width;
    const image: StoredImage = {
      version: createHash('sha256').update(bytes).digest('hex').slice(0, IMAGE_VERSION_CHARS),
      alt: (body.alt ?? '').trim().slice(0, LIMITS.productImageAltChars) || product.name,
      widths,
      width: largest,
      height: heightAt(largest, processed.width, processed.height),
    };
    let saved;
    try {
      saved = await this.repository.setImage(id, image, files, this.clock.now());
    } finally {
      await this.afterWrite([id]);
    }
    if (!saved) throw notFound(`Product ${productId}`);
    return toCatalogProduct(saved);
  }

  /**
   * One image file as the gateway serves it. A file of another version than the product's current
   * one is NOT_FOUND: its URL is immutable, and the bytes it named are gone.
   */
  async file(productId: string, file: string): Promise<catalog.ImageFile> {
    const id = productId.toLowerCase();
    const generated = GENERATED_FILE.exec(file);
    if (generated) {
      const product = await this.repository.get(id);
      if (!product || product.image !== undefined || generatedVersion(product) !== generated[1]) throw notFound(`Image ${file} of product ${productId}`);
      return { contentType: 'image/svg+xml', etag: `"${generated[1]}"`, data: Buffer.from(generatedSvg(product)).toString('base64') };
    }
    const uploaded = UPLOADED_FILE.exec(file);
    const version = uploaded?.[1];
    const width = Number(uploaded?.[2]);
    const bytes = version === undefined ? undefined : await this.repository.imageFile(id, version, width);
    if (!bytes || version === undefined) throw notFound(`Image ${file} of product ${productId}`);
    return { contentType: 'image/webp', etag: `"${version}-${width}"`, data: Buffer.from(bytes).toString('base64') };
  }
}
