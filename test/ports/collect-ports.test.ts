import { describe, expect, it } from 'vitest';
import type { ServicePorts } from '@agora/contracts';
import type { RunningService } from '@agora/platform';
import { collectPorts } from '@agora/cli';

const catalogPort: ServicePorts['catalog'] = { variants: async () => [], storefrontProduct: async () => ({ json: '{}', withAvailability: true }), storefrontPage: async () => ({ json: '{}', withAvailability: true }) };

/** Only the port fields matter to collectPorts; the rest of a service is never touched. */
const service = (name: string, ports: Partial<ServicePorts> | undefined): RunningService => ({ name, ports }) as unknown as RunningService;

describe('collectPorts (agora start)', () => {
  it('adds the port a service offers under its own name', () => {
    const ports: Partial<ServicePorts> = {};
    collectPorts(ports, service('catalog', { catalog: catalogPort }));
    collectPorts(ports, service('identity', undefined));
    expect(ports).toEqual({ catalog: catalogPort });
  });

  it("refuses a service that offers another service's port", () => {
    const ports: Partial<ServicePorts> = {};
    expect(() => collectPorts(ports, service('cart', { catalog: catalogPort }))).toThrow(/cart offers the catalog port/);
    expect(ports).toEqual({});
  });
});
