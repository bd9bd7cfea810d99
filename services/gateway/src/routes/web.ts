import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HttpApp } from '@agora/platform';

/**
 * Mounts the web storefront and admin (apps/web) at `/`. It runs after every API route is
 * declared. Either a function that adds its own routes, or `{ root }`: the built app
 * (apps/web/dist), served by `serveWebApp` below.
 */
export type WebAppMount = ((app: HttpApp) => void | Promise<void>) | WebAppFiles;

export interface WebAppFiles {
  /** A folder holding `index.html` and the hashed `assets/` Vite writes. */
  root: string;
}

/** Paths that belong to the API and operations: never answered with the app's index.html. */
const RESERVED_PREFIXES = ['/api/', '/health/', '/metrics'];
const RESERVED_EXACT = new Set(['/api', '/health']);
/** Vite names everything under assets/ by content hash, so a URL there never changes meaning. */
const IMMUTABLE_PREFIX = '/assets/';
const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
/** index.html and unhashed files (favicon) are revalidated each time, cheaply, by ETag. */
const REVALIDATE_CACHE = 'no-cache';
/** Files this small gain nothing from gzip. */
const GZIP_MIN_BYTES = 1024;
/** A build is a few hundred KB; more than this in the folder means a wrong `root`. */
const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt', '.webmanifest']);

/**
 * The page may load only its own scripts, styles and images and talk only to its own origin; React
 * sets inline styles through the CSSOM, which `style-src 'self'` allows, so no 'unsafe-inline'.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface StaticFile {
  body: Buffer;
  gzipped: Buffer | undefined;
  contentType: string;
  etag: string;
  cacheControl: string;
}

function listFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    // Dot entries (Vite's .vite/manifest.json) are build metadata, not part of the site.
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/**
 * Reads the whole build into memory once: a request is then a map lookup (no path from a URL ever
 * reaches the file system, so there is nothing to traverse), with the gzip and ETag made up front.
 */
export function loadWebFiles(root: string): Map<string, StaticFile> {
  if (!statSync(join(root, 'index.html'), { throwIfNoEntry: false })?.isFile()) {
    throw new Error(`web app root ${root} has no index.html (build it with: npm run build -w @agora/web)`);
  }
  const files = new Map<string, StaticFile>();
  let total = 0;
  for (const path of listFiles(root)) {
    const urlPath = `/${relative(root, path).split(sep).join('/')}`;
    const body = readFileSync(path);
    total += body.length;
    if (total > MAX_TOTAL_BYTES) throw new Error(`web app root ${root} holds more than ${MAX_TOTAL_BYTES} bytes; is it the Vite build folder?`);
    const ext = extname(path).toLowerCase();
    const gzipped = COMPRESSIBLE.has(ext) && body.length >= GZIP_MIN_BYTES ? gzipSync(body, { level: 9 }) : undefined;
    files.set(urlPath, {
      body,
      gzipped: gzipped && gzipped.length < body.length ? gzipped : undefined,
      contentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      cacheControl: urlPath.startsWith(IMMUTABLE_PREFIX) ? IMMUTABLE_CACHE : REVALIDATE_CACHE,
    });
  }
  return files;
}

function isReserved(path: string): boolean {
  return RESERVED_EXACT.has(path) || RESERVED_PREFIXES.some((prefix) => path.startsWith(prefix));
}

/** A last segment with a dot (`/assets/x.js`, `/favicon.ico`) asks for a file, not a client route. */
function looksLikeFile(path: string): boolean {
  const last = path.slice(path.lastIndexOf('/') + 1);
  return last.includes('.');
}

/** The app's usual NOT_FOUND problem (createHttpApp's not-found handler). */
function notFound(reply: FastifyReply): FastifyReply {
  reply.callNotFound();
  return reply;
}

function acceptsGzip(request: FastifyRequest): boolean {
  const accept = request.headers['accept-encoding'];
  return typeof accept === 'string' && /\bgzip\b/i.test(accept);
}

function send(request: FastifyRequest, reply: FastifyReply, file: StaticFile, isIndex: boolean): FastifyReply {
  reply.header('cache-control', file.cacheControl);
  reply.header('etag', file.etag);
  reply.header('x-content-type-options', 'nosniff');
  if (isIndex) {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('referrer-policy', 'same-origin');
  }
  if (file.gzipped) reply.header('vary', 'accept-encoding');
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  reply.type(file.contentType);
  if (file.gzipped && acceptsGzip(request)) {
    reply.header('content-encoding', 'gzip');
    return reply.send(file.gzipped);
  }
  return reply.send(file.body);
}

/**
 * Serves the built web app at `/`: its files by exact path, and index.html for any other GET that
 * is not under `/api`, `/health` or `/metrics` (the client-side router takes it from there).
 * Unknown API paths keep their NOT_FOUND problem; a missing asset is a 404, not index.html.
 * The routes are exempt from the API rate limits like health checks are (`operational`): a page
 * load fetches several files, and none of them reaches a service.
 */
export function serveWebApp(app: HttpApp, options: WebAppFiles): void {
  const files = loadWebFiles(options.root);
  const index = files.get('/index.html');
  if (!index) throw new Error(`web app root ${options.root} has no index.html`);

  app.get('/*', { schema: { hide: true }, config: { operational: true } }, async (request, reply) => {
    const rawPath = request.url.split('?')[0] ?? '/';
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch (err) {
      // A malformed %-escape names no file and no client route.
      request.log.debug({ err, url: request.url }, 'undecodable web path');
      return notFound(reply);
    }
    if (isReserved(path)) return notFound(reply);
    const file = files.get(path);
    if (file && path !== '/index.html') return send(request, reply, file, false);
    if (path !== '/' && path !== '/index.html' && looksLikeFile(path)) return notFound(reply);
    return send(request, reply, index, true);
  });
}

export async function mountWebApp(app: HttpApp, web: WebAppMount): Promise<void> {
  if (typeof web === 'function') await web(app);
  else serveWebApp(app, web);
}
