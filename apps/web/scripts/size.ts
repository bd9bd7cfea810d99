/**
 * How much JavaScript the storefront's first load of `/` costs, gzipped as the gateway serves it:
 * the entry, everything it imports statically, and the home page's chunk with its imports (the
 * router loads exactly that one lazily). Reads the Vite manifest; run after a build:
 *   node --import tsx apps/web/scripts/size.ts [--budget-kb 200]
 * Exits 1 when over the budget.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

interface Chunk {
  file: string;
  imports?: string[];
  isEntry?: boolean;
}

const DIST = join(dirname(dirname(fileURLToPath(import.meta.url))), 'dist');
const HOME_CHUNK = 'src/pages/Home.tsx';

const manifest = JSON.parse(readFileSync(join(DIST, '.vite', 'manifest.json'), 'utf8')) as Record<string, Chunk>;

function closure(keys: readonly string[], seen = new Set<string>()): Set<string> {
  for (const key of keys) {
    if (seen.has(key)) continue;
    const chunk = manifest[key];
    if (!chunk) throw new Error(`manifest has no chunk ${key}`);
    seen.add(key);
    closure(chunk.imports ?? [], seen);
  }
  return seen;
}

const gz = (file: string) => gzipSync(readFileSync(join(DIST, file)), { level: 9 }).length;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

const entry = Object.entries(manifest).find(([, c]) => c.isEntry)?.[0];
if (!entry) throw new Error('manifest has no entry');
const firstLoad = [...closure([entry, HOME_CHUNK])].map((key) => manifest[key]?.file ?? key);
let total = 0;
for (const file of firstLoad) {
  const size = gz(file);
  total += size;
  process.stdout.write(`  ${file.padEnd(40)} ${kb(size).padStart(10)}\n`);
}
const everything = [...new Set(Object.values(manifest).map((c) => c.file).filter((f) => f.endsWith('.js')))].reduce((n, f) => n + gz(f), 0);
process.stdout.write(`storefront first load (/): ${kb(total)} of JavaScript gzipped; the whole app: ${kb(everything)}\n`);

const budgetAt = process.argv.indexOf('--budget-kb');
const budget = budgetAt > 0 ? Number(process.argv[budgetAt + 1]) * 1024 : undefined;
if (budget !== undefined && total > budget) {
  process.stderr.write(`over the budget of ${kb(budget)}\n`);
  process.exit(1);
}
