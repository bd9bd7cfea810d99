import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A file of the workspace package that holds the calling module (pass `import.meta.url`), by its
 * path from the package's root (where its package.json is). The answer is the same from
 * `src/x.ts` run through tsx and from the compiled `dist/src/x.js`, so what the compiler does not
 * copy (SQL migrations, templates, the web app's build) stays where it is in the repository.
 */
export function packageFile(moduleUrl: string, path: string): string {
  const module = fileURLToPath(moduleUrl);
  let dir = dirname(module);
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json in any directory above ${module}`);
    dir = parent;
  }
  return join(dir, path);
}
