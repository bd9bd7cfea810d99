/**
 * Agora's services, by the name each is known by everywhere: its transport route, its discovery
 * registrations, its database schema and environment variables (`<NAME>_DATABASE_URL`), its
 * metrics label. One list for every place that needs all of them; the order they start in is the
 * composition root's (apps/agora/src/compose.ts, SERVICE_MODULES).
 */
export const SERVICE_NAMES = ['identity', 'catalog', 'inventory', 'cart', 'payment', 'order'] as const;

export type ServiceName = (typeof SERVICE_NAMES)[number];
