/** Every limit of the system, named, in one place. */
export const LIMITS = {
  /** Bodies over 1 MiB are refused with 413 (PAYLOAD_TOO_LARGE). */
  bodyBytes: 1024 * 1024,
  /**
   * Deepest nesting of a JSON body: the API's deepest body nests 3 levels; far deeper is an
   * attack (thousands of levels exhaust the stack of whatever walks it next), refused with 400.
   */
  jsonDepth: 32,
  pageSizeDefault: 20,
  pageSizeMax: 100,
  cursorChars: 512,
  searchQueryChars: 200,
  idempotencyKeyChars: 255,
  passwordMin: 8,
  passwordMax: 128,
  emailChars: 254,
  nameChars: 200,
  productNameChars: 200,
  productDescriptionChars: 5000,
  categoryChars: 64,
  skuChars: 64,
  variantTitleChars: 200,
  variantsPerProduct: 50,
  /** Largest product image an admin may upload (PNG, JPEG or WebP bytes); larger is refused with 413 naming `data`. */
  productImageBytes: 4 * 1024 * 1024,
  /** Most pixels (width × height) an uploaded image may decode to: a small file can hold a huge image, and decoding costs 4 bytes a pixel. */
  productImagePixels: 25_000_000,
  /** Longest alt text of a product image. */
  productImageAltChars: 300,
  cartQuantityMax: 99,
  cartLinesMax: 100,
  /** Failed logins per e-mail inside the window before login answers 429. */
  loginFailuresPerWindow: 10,
  loginFailureWindowMs: 15 * 60 * 1000,
  tokenTtlSeconds: 24 * 60 * 60,
  /** A service call that takes longer than this fails with UNAVAILABLE. */
  serviceCallTimeoutMs: 5_000,
  shutdownGraceMs: 10_000,
} as const;
