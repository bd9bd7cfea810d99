import type { CartPort, CatalogPort, InventoryPort, OrderPort } from '@agora/contracts';
import type { HttpApp } from '@agora/platform';
import type { AvailabilityEnricher } from '../availability.js';
import type { GatewayConfig } from '../config.js';
import type { Upstream } from '../upstream.js';

/** What a route area needs: the way to the services and the edge's settings. */
export interface RouteContext {
  upstream: Upstream;
  availability: AvailabilityEnricher;
  config: GatewayConfig;
  /**
   * The catalog in this process (`agora start`): storefront reads go straight to its application
   * object, answered as the JSON text its cache holds. Absent (the cluster): through `upstream`.
   */
  catalog?: CatalogPort;
  /** The inventory in this process: flash-sale purchases go straight to its application object. */
  inventory?: InventoryPort;
  /** The cart in this process: an add to cart goes straight to its application object. */
  cart?: CartPort;
  /** The order service in this process: a checkout goes straight to its port, gate included. */
  order?: OrderPort;
}

/**
 * One area of the public API (identity, catalog, ...): declares its routes on the app with their
 * schemas and `config.access`. Areas never import a service package; they reach services only
 * through `context.upstream` (or a port the composition root gave).
 */
export type RouteArea = (app: HttpApp, context: RouteContext) => void;
