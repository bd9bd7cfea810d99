import type { HttpApp } from '@agora/platform';

/**
 * Mounts the web storefront and admin (apps/web) at `/`. Not built yet: a later issue passes one
 * in `GatewayOptions.web` (e.g. @fastify/static over apps/web/dist with an index.html fallback for
 * client-side routes that leaves `/api/*`, `/health/*` and `/metrics` to their own 404s).
 * It runs after every API route is declared.
 */
export type WebAppMount = (app: HttpApp) => void | Promise<void>;
