import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// Runs the repository's own ESLint configuration on snippets placed (virtually) at paths inside
// the services, so each boundary rule is shown to report what it claims, and to let legal imports be.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

type Finding = { rule: string | null; line: number };

/** The findings of the two boundary rules on `code`, as if it were the file at `path`. */
const boundaryFindings = async (path: string, code: string): Promise<Finding[]> => {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
  if (!result) throw new Error(`ESLint returned no result for ${path}`);
  // A parse error would hide every rule: fail on it rather than read "no finding" as a pass.
  const fatal = result.messages.filter((m) => m.fatal);
  expect(fatal).toEqual([]);
  return result.messages.filter((m) => m.ruleId?.startsWith('agora/')).map((m) => ({ rule: m.ruleId, line: m.line }));
};

const lines = (...statements: string[]): string => `${statements.join('\n')}\n`;

describe('no-cross-service-import: a service never imports another service', () => {
  const rule = 'agora/no-cross-service-import';

  it('reports every form of import of another service, by package or by path', async () => {
    const code = lines(
      "import { paymentRoutes } from '@agora/payment';",
      "import type { X } from '@agora/inventory/deep/path';",
      "export { y } from '../../../payment/src/index.js';",
      "export * from '../../../../services/cart/src/domain/cart.js';",
      "const late = await import('@agora/catalog');",
      "import legacy = require('../../../identity/src/index.js');",
      'export { late, legacy, paymentRoutes };',
      'export type { X };',
    );
    expect(await boundaryFindings('services/order/src/app/fixture.ts', code)).toEqual([1, 2, 3, 4, 5, 6].map((line) => ({ rule, line })));
  });

  it('lets a service import its own files, the shared packages and libraries', async () => {
    const code = lines(
      "import { orderRoutes } from '../http/routes.js';",
      "import { AppError } from '@agora/kernel';",
      "import type { order } from '@agora/contracts';",
      "import { startService } from '@agora/platform';",
      "import { Type } from 'typebox';",
      'export { AppError, Type, orderRoutes, startService };',
      'export type { order };',
    );
    expect(await boundaryFindings('services/order/src/app/fixture.ts', code)).toEqual([]);
  });

  it('leaves the composition root free to import every service', async () => {
    const code = lines("import { orderService } from '@agora/order';", "import { paymentService } from '@agora/payment';", 'export { orderService, paymentService };');
    expect(await boundaryFindings('apps/agora/src/fixture.ts', code)).toEqual([]);
  });
});

describe('domain-no-io: a domain/ folder does no I/O', () => {
  const rule = 'agora/domain-no-io';

  it('reports I/O libraries, Node file and network modules, and the store/ and http/ folders', async () => {
    const code = lines(
      "import { eq } from 'drizzle-orm';",
      "import { pgTable } from 'drizzle-orm/pg-core';",
      "import pg from 'pg';",
      "import { Redis } from 'ioredis';",
      "import { connect } from 'nats';",
      "import { jetstream } from '@nats-io/jetstream';",
      "import type { FastifyInstance } from 'fastify';",
      "import { readFile } from 'node:fs/promises';",
      "import { createServer } from 'node:net';",
      "import { request } from 'node:http';",
      "import { writeFileSync } from 'fs';",
      "import { orders } from '../store/schema.js';",
      "import { orderRoutes } from '../http/routes.js';",
      "const store = await import('../store/order-store.js');",
      'export { connect, createServer, eq, jetstream, orderRoutes, orders, pg, pgTable, readFile, Redis, request, store, writeFileSync };',
      'export type { FastifyInstance };',
    );
    expect(await boundaryFindings('services/order/src/domain/fixture.ts', code)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((line) => ({ rule, line })));
  });

  it('lets a domain module use pure code: the kernel, the contracts, node:crypto, its own folder', async () => {
    const code = lines(
      "import { AppError, money } from '@agora/kernel';",
      "import type { OrderLine } from '@agora/contracts/order';",
      "import { createHmac } from 'node:crypto';",
      "import { canTransition } from './status.js';",
      'export { AppError, canTransition, createHmac, money };',
      'export type { OrderLine };',
    );
    expect(await boundaryFindings('services/order/src/domain/fixture.ts', code)).toEqual([]);
  });

  it('holds in any domain/ folder, and only there', async () => {
    const io = lines("import { eq } from 'drizzle-orm';", 'export { eq };');
    expect(await boundaryFindings('services/payment/src/domain/fixture.ts', io)).toEqual([{ rule, line: 1 }]);
    expect(await boundaryFindings('services/payment/src/store/fixture.ts', io)).toEqual([]);
  });
});
