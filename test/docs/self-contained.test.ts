import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  OUTSIDE_DOCUMENTS,
  brokenDocumentationLinks,
  brokenLinks,
  isGitWorkTree,
  linkedPath,
  markdownLinks,
  outsideReferences,
  repositoryRoot,
  trackedOutsideReferences,
} from './self-contained.js';

const ROOT = repositoryRoot(import.meta.url);
const [DESIGN_DOC = '', API_DOC = '', STYLE_DOC = ''] = OUTSIDE_DOCUMENTS;

const show = (findings: readonly { file: string; line: number; text: string }[]): string[] => findings.map((f) => `${f.file}:${f.line}: ${f.text}`);

describe('the repository names no document it does not hold', () => {
  it('finds a reference to each outside document, and not the repository’s own pages', () => {
    const text = [
      `// the rules are in ${DESIGN_DOC} section 7`,
      'nothing to see here',
      `/** (${API_DOC}) keys are kept 24 hours */`,
      `see shared/${STYLE_DOC}`,
      'the contract is docs/api.md; the design is docs/architecture.md',
      'OPENAPI_JSON_PATH and MY_API.markdown are other names',
    ].join('\n');
    expect(outsideReferences(text)).toEqual([
      { line: 1, text: `// the rules are in ${DESIGN_DOC} section 7` },
      { line: 3, text: `/** (${API_DOC}) keys are kept 24 hours */` },
      { line: 4, text: `see shared/${STYLE_DOC}` },
    ]);
  });

  it('catches a reference in a file git tracks, and skips binary files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agora-self-contained-'));
    try {
      execFileSync('git', ['init', '-q'], { cwd: dir });
      mkdirSync(join(dir, 'src'));
      writeFileSync(join(dir, 'src', 'clean.ts'), 'export const x = 1;\n');
      writeFileSync(join(dir, 'src', 'stale.ts'), `export const y = 2;\n// as ${DESIGN_DOC} says\n`);
      writeFileSync(join(dir, 'blob.bin'), Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(API_DOC)]));
      writeFileSync(join(dir, 'untracked.md'), `${STYLE_DOC}\n`);
      execFileSync('git', ['add', 'src', 'blob.bin'], { cwd: dir });
      const { scanned, findings } = trackedOutsideReferences(dir);
      expect(scanned).toBe(2);
      expect(show(findings)).toEqual([`src/stale.ts:2: // as ${DESIGN_DOC} says`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(isGitWorkTree(ROOT))('holds for every file git tracks', () => {
    const { scanned, findings } = trackedOutsideReferences(ROOT);
    // Not vacuous: the whole repository was read.
    expect(scanned).toBeGreaterThan(200);
    expect(show(findings), 'point these to docs/ (architecture.md, api.md, ...) instead').toEqual([]);
  });
});

describe('relative links in README.md and docs/ lead to files that exist', () => {
  const fixture = [
    '# A page',
    'See [the checkout](checkout.md), [its steps](checkout.md#the-steps) and [a section](#a-page).',
    'Also [the API](api.md "the contract") and ![a chart](img/chart.png).',
    'Gone: [old design](../shared/design.md) and [missing](operations.md#backups).',
    'Outside: [Fastify](https://fastify.dev), [mail](mailto:a@b.c).',
    'From the root: [the saga](/packages/platform/src/saga/index.ts), [nothing](/nowhere.ts).',
    'Code is not a link: `[x](nope.md)`',
    '```',
    '[inside a fence](fenced.md)',
    '```',
    '[ref]: ./reference-missing.md',
    '[ok-ref]: <api.md>',
  ].join('\n');
  const files = new Set(['docs/checkout.md', 'docs/api.md', 'docs/img/chart.png', 'packages/platform/src/saga/index.ts']);

  it('extracts inline links, images and reference definitions, not code', () => {
    const targets = markdownLinks(fixture).map((l) => l.target);
    expect(targets).toEqual([
      'checkout.md',
      'checkout.md#the-steps',
      '#a-page',
      'api.md',
      'img/chart.png',
      '../shared/design.md',
      'operations.md#backups',
      'https://fastify.dev',
      'mailto:a@b.c',
      '/packages/platform/src/saga/index.ts',
      '/nowhere.ts',
      './reference-missing.md',
      'api.md',
    ]);
  });

  it('resolves a link from the file that holds it', () => {
    expect(linkedPath('checkout.md#the-steps', 'docs/architecture.md')).toBe('docs/checkout.md');
    expect(linkedPath('../README.md', 'docs/architecture.md')).toBe('README.md');
    expect(linkedPath('docs/api.md', 'README.md')).toBe('docs/api.md');
    expect(linkedPath('/deploy/nginx/agora.conf.template', 'docs/a.md')).toBe('deploy/nginx/agora.conf.template');
    expect(linkedPath('my%20notes.md', 'docs/a.md')).toBe('docs/my notes.md');
    expect(linkedPath('#top', 'docs/a.md')).toBeUndefined();
    expect(linkedPath('https://example.org/x.md', 'docs/a.md')).toBeUndefined();
  });

  it('reports exactly the broken ones', () => {
    const broken = brokenLinks(fixture, 'docs/page.md', (path) => files.has(path));
    expect(show(broken)).toEqual([
      'docs/page.md:4: ../shared/design.md',
      'docs/page.md:4: operations.md#backups',
      'docs/page.md:6: /nowhere.ts',
      'docs/page.md:11: ./reference-missing.md',
    ]);
  });

  it('reports a link that climbs out of the repository', () => {
    expect(show(brokenLinks('[up](../../etc/passwd)', 'README.md', () => true))).toEqual(['README.md:1: ../../etc/passwd']);
  });

  it('counts a file as there only when a clone would have it (tracked by git)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agora-links-'));
    try {
      execFileSync('git', ['init', '-q'], { cwd: dir });
      mkdirSync(join(dir, 'docs'));
      writeFileSync(join(dir, 'README.md'), '[a](docs/a.md) [b](docs/b.md) [c](docs/c.md) [the docs](docs/)\n');
      writeFileSync(join(dir, 'docs', 'a.md'), '[back](../README.md)\n');
      writeFileSync(join(dir, 'docs', 'b.md'), 'a draft nobody added\n');
      execFileSync('git', ['add', 'README.md', 'docs/a.md'], { cwd: dir });
      const { files: pages, links, broken } = brokenDocumentationLinks(dir);
      expect(pages).toEqual(['README.md', 'docs/a.md', 'docs/b.md']);
      expect(links).toBe(5);
      expect(show(broken)).toEqual(['README.md:1: docs/b.md', 'README.md:1: docs/c.md']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds for README.md and every page under docs/', () => {
    const { files: pages, links, broken } = brokenDocumentationLinks(ROOT);
    expect(pages).toEqual(expect.arrayContaining(['README.md', 'docs/architecture.md', 'docs/api.md', 'docs/checkout.md']));
    // Not vacuous: the pages do link to each other.
    expect(links).toBeGreaterThan(10);
    expect(show(broken), 'each of these is missing from a clone (absent, or not added to git)').toEqual([]);
  });
});
