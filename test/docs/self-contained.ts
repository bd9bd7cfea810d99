import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * The repository must stand on its own: a person who clones it has only what it holds. Two checks
 * keep it so — no file names a design document that lives outside the repository, and no relative
 * link in the documentation leads to a file that is not there.
 */

/**
 * Documents that were kept beside the repository, never in it. The names are assembled here
 * rather than spelled out, so this file does not trip its own check.
 */
export const OUTSIDE_DOCUMENTS: readonly string[] = ['DESIGN', 'API', 'STYLE'].map((name) => `${name}.md`);

/** Case-sensitive on purpose: `docs/api.md` is the repository's own page, not the outside one. */
const OUTSIDE_REFERENCE = new RegExp(`\\b(?:${OUTSIDE_DOCUMENTS.map((name) => name.replace('.', '\\.')).join('|')})\\b`);

export interface Finding {
  /** Repository-relative path, with `/` separators. */
  file: string;
  /** 1-based. */
  line: number;
  text: string;
}

/** Lines of `text` that name an outside document. */
export function outsideReferences(text: string): { line: number; text: string }[] {
  const found: { line: number; text: string }[] = [];
  text.split('\n').forEach((content, index) => {
    if (OUTSIDE_REFERENCE.test(content)) found.push({ line: index + 1, text: content.trim() });
  });
  return found;
}

/** Files git tracks under `root` (the index, so a file added but not committed counts). */
export function trackedFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return out.split('\0').filter((path) => path.length > 0);
}

export function isGitWorkTree(root: string): boolean {
  try {
    return execFileSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'true';
  } catch {
    return false;
  }
}

/** Every line of a tracked text file that names an outside document. Binary files (a NUL byte) are skipped. */
export function trackedOutsideReferences(root: string): { scanned: number; findings: Finding[] } {
  const findings: Finding[] = [];
  let scanned = 0;
  for (const file of trackedFiles(root)) {
    const path = join(root, file);
    // Deleted in the work tree but still in the index: nothing left to read.
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) continue;
    const bytes = readFileSync(path);
    if (bytes.includes(0)) continue;
    scanned++;
    for (const hit of outsideReferences(bytes.toString('utf8'))) findings.push({ file, ...hit });
  }
  return { scanned, findings };
}

export interface MarkdownLink {
  target: string;
  line: number;
}

/** An inline link or image: `[text](target)`, `[text](<target> "title")`, `![alt](target)`. */
const INLINE_LINK = /!?\[(?:[^[\]]|\[[^[\]]*\])*\]\(\s*(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
/** A reference definition on its own line: `[label]: target "title"`. */
const REFERENCE_DEFINITION = /^ {0,3}\[[^\]]+\]:\s*(<[^>\n]*>|\S+)/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
/** Inline code spans, which show syntax rather than link. */
const CODE_SPAN = /(`+)[^`]*?\1/g;

/** The links of a markdown text, outside fenced code blocks and code spans. */
export function markdownLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((raw, index) => {
    const opener = FENCE.exec(raw)?.[1];
    if (fence !== undefined) {
      // A fence closes with a run of the same character at least as long as the one that opened it.
      if (opener !== undefined && opener[0] === fence[0] && opener.length >= fence.length) fence = undefined;
      return;
    }
    if (opener !== undefined) {
      fence = opener;
      return;
    }
    const line = raw.replace(CODE_SPAN, (span) => ' '.repeat(span.length));
    const definition = REFERENCE_DEFINITION.exec(line)?.[1];
    if (definition !== undefined) links.push({ target: unbracket(definition), line: index + 1 });
    for (const match of line.matchAll(INLINE_LINK)) links.push({ target: unbracket(match[1] ?? ''), line: index + 1 });
  });
  return links;
}

function unbracket(target: string): string {
  return target.startsWith('<') && target.endsWith('>') ? target.slice(1, -1) : target;
}

/** `https:`, `mailto:` and the like leave the repository; they are not checked here. */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * The path a link points to, relative to the repository root (`/` separators), or undefined when
 * it points outside the repository's files (a URL, an anchor on the same page, an empty target).
 * A leading `/` is the repository root, as on a code host.
 */
export function linkedPath(target: string, fromFile: string): string | undefined {
  if (target === '' || target.startsWith('#') || SCHEME.test(target)) return undefined;
  const bare = target.replace(/[?#].*$/, '');
  if (bare === '') return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(bare);
  } catch {
    decoded = bare;
  }
  return decoded.startsWith('/') ? posix.normalize(decoded.slice(1)) : posix.join(posix.dirname(fromFile), decoded);
}

/** Links of `markdown` (which lives at `fromFile`) whose file is missing, as `exists` sees it. */
export function brokenLinks(markdown: string, fromFile: string, exists: (path: string) => boolean): Finding[] {
  const broken: Finding[] = [];
  for (const link of markdownLinks(markdown)) {
    const path = linkedPath(link.target, fromFile);
    if (path === undefined) continue;
    if (path === '..' || path.startsWith('../') || !exists(path)) broken.push({ file: fromFile, line: link.line, text: link.target });
  }
  return broken;
}

/** README.md and every markdown file under docs/, repository-relative. */
export function documentationFiles(root: string): string[] {
  const files = existsSync(join(root, 'README.md')) ? ['README.md'] : [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.md')) files.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(join(root, 'docs'));
  return files.sort();
}

/**
 * A file or folder exists for a person who clones the repository when git tracks it (or, for a
 * folder, something in it). Outside a git work tree, the disk is all there is to ask.
 */
export function clonedPathExists(root: string): (path: string) => boolean {
  if (!isGitWorkTree(root)) return (path) => existsSync(resolve(root, path));
  const paths = new Set<string>();
  for (const file of trackedFiles(root)) {
    paths.add(file);
    for (let dir = posix.dirname(file); dir !== '.'; dir = posix.dirname(dir)) paths.add(dir);
  }
  return (path) => paths.has(posix.normalize(path).replace(/\/$/, ''));
}

/** Broken relative links in the repository's documentation: targets missing from a clone. */
export function brokenDocumentationLinks(root: string): { files: string[]; links: number; broken: Finding[] } {
  const files = documentationFiles(root);
  const exists = clonedPathExists(root);
  let links = 0;
  const broken: Finding[] = [];
  for (const file of files) {
    const markdown = readFileSync(join(root, file), 'utf8');
    links += markdownLinks(markdown).filter((link) => linkedPath(link.target, file) !== undefined).length;
    broken.push(...brokenLinks(markdown, file, exists));
  }
  return { files, links, broken };
}

/** The repository root, from this file's place in it (test/docs/). */
export function repositoryRoot(fromUrl: string): string {
  return resolve(dirname(fileURLToPath(fromUrl)), '..', '..');
}
