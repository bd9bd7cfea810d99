import type { Product } from '../types';

/**
 * How wide a product image is drawn, for the browser to pick a width from `srcset` before layout:
 * a card is a grid column (about half the viewport on a phone, a sixth on a desktop), the product
 * page's picture about half the page beside its details, the whole width on a phone.
 */
const SIZES = {
  card: '(max-width: 40rem) 50vw, (max-width: 64rem) 33vw, 16rem',
  page: '(max-width: 48rem) 100vw, 36rem',
  thumb: '3rem',
} as const;

/**
 * A product's picture: its upload in the width the screen needs (`srcset`), or the picture drawn from
 * its name and category. Width and height reserve its box before the bytes arrive (no layout shift);
 * a card's image is lazy, the product page's is not (it is what the page is about). A thumbnail
 * sits beside the product's name, which says all its alt text would: it is decorative (alt "").
 */
export function ProductImage({ product, variant }: { product: Pick<Product, 'image'>; variant: keyof typeof SIZES }) {
  const image = product.image;
  return (
    <img
      className={`product-image product-image-${variant}`}
      src={image.src}
      srcSet={image.srcset || undefined}
      sizes={image.srcset ? SIZES[variant] : undefined}
      width={image.width}
      height={image.height}
      alt={variant === 'thumb' ? '' : image.alt}
      loading={variant === 'page' ? 'eager' : 'lazy'}
      decoding="async"
      data-generated={image.generated ? 'true' : undefined}
    />
  );
}
