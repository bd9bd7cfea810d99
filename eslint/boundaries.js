// The import boundaries of the architecture, as ESLint rules (docs/architecture.md):
// - a service's source (services/<name>/src) never imports another service, by its package name or
//   by a path into its folder: services talk over HTTP and events, never through each other's code;
// - a domain/ folder does no I/O: no database, cache, messaging or HTTP library, no file or network
//   module of Node, and nothing from its service's store/ or http/ folders.
// Every form of import is checked: import, export ... from, import(), import x = require().
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVICES = join(ROOT, 'services');

/** Each service folder with its package name (read from its package.json, so a new service is covered). */
const SERVICE_PACKAGES = new Map(
  readdirSync(SERVICES, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => [entry.name, JSON.parse(readFileSync(join(SERVICES, entry.name, 'package.json'), 'utf8')).name]),
);

/** Packages that do I/O, with any subpath (`drizzle-orm/pg-core`, `@nats-io/jetstream`). */
const IO_PACKAGES = [
  'drizzle-orm',
  'pg',
  'ioredis',
  'nats',
  '@nats-io/*',
  'fastify',
  '@fastify/*',
  '@electric-sql/pglite',
  // The platform package is the I/O layer every service plugs in (storage, messaging, HTTP).
  '@agora/platform',
];

/** Node modules that reach files, processes or the network (with and without the node: prefix). */
const IO_NODE_MODULES = ['fs', 'fs/promises', 'net', 'http', 'https', 'http2', 'dgram', 'dns', 'tls', 'child_process', 'cluster', 'worker_threads'];

/** Folders of a service that hold its adapters: a domain module may not reach into them. */
const ADAPTER_FOLDERS = ['store', 'http'];

const packageName = (source) => {
  const parts = source.split('/');
  return source.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
};

const isIoPackage = (source) => {
  const name = packageName(source);
  if (source.startsWith('node:')) return IO_NODE_MODULES.includes(source.slice('node:'.length));
  if (IO_NODE_MODULES.includes(source)) return true;
  return IO_PACKAGES.some((pattern) => (pattern.endsWith('/*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern));
};

/** The path of a file relative to the repository, split into folders ('/'-separated on every OS). */
const repoSegments = (file) => relative(ROOT, file).split(sep);

/** The service a file belongs to (services/<name>/...), or undefined. */
const serviceOf = (file) => {
  const [top, name] = repoSegments(file);
  return top === 'services' && SERVICE_PACKAGES.has(name) ? name : undefined;
};

/** Calls `check(node, source)` for every import of the file whose source is a string literal. */
const forEachImport = (check) => {
  const literal = (node, source) => {
    if (source && source.type === 'Literal' && typeof source.value === 'string') check(node, source.value);
  };
  return {
    ImportDeclaration: (node) => literal(node, node.source),
    ExportNamedDeclaration: (node) => literal(node, node.source),
    ExportAllDeclaration: (node) => literal(node, node.source),
    ImportExpression: (node) => literal(node, node.source),
    TSImportEqualsDeclaration: (node) => {
      if (node.moduleReference.type === 'TSExternalModuleReference') literal(node, node.moduleReference.expression);
    },
  };
};

const isRelative = (source) => source.startsWith('./') || source.startsWith('../');

const noCrossServiceImport = {
  meta: {
    type: 'problem',
    docs: { description: 'A service never imports another service, by package name or by path.' },
    schema: [],
    messages: {
      crossService:
        "Service '{{from}}' imports '{{source}}' from service '{{to}}': services talk over HTTP and events, not through each other's code (docs/architecture.md).",
    },
  },
  create(context) {
    const file = context.filename;
    const from = serviceOf(file);
    if (!from || repoSegments(file)[2] !== 'src') return {};
    return forEachImport((node, source) => {
      let to;
      if (isRelative(source)) to = serviceOf(resolve(dirname(file), source));
      else to = [...SERVICE_PACKAGES].find(([, name]) => packageName(source) === name)?.[0];
      if (to && to !== from) context.report({ node, messageId: 'crossService', data: { from, source, to } });
    });
  },
};

const domainNoIo = {
  meta: {
    type: 'problem',
    docs: { description: 'A domain/ folder does no I/O and reaches into no store/ or http/ folder.' },
    schema: [],
    messages: {
      ioPackage: "A domain module imports '{{source}}', which does I/O: keep the domain pure and do the I/O in app/, store/ or http/.",
      adapterFolder: "A domain module imports '{{source}}' from a {{folder}}/ folder: the domain depends on no adapter; pass what it needs in.",
    },
  },
  create(context) {
    const file = context.filename;
    if (!repoSegments(file).includes('domain')) return {};
    return forEachImport((node, source) => {
      if (!isRelative(source)) {
        if (isIoPackage(source)) context.report({ node, messageId: 'ioPackage', data: { source } });
        return;
      }
      const folder = repoSegments(resolve(dirname(file), source)).find((segment) => ADAPTER_FOLDERS.includes(segment));
      if (folder) context.report({ node, messageId: 'adapterFolder', data: { source, folder } });
    });
  },
};

export const boundaries = {
  meta: { name: 'agora-boundaries' },
  rules: { 'no-cross-service-import': noCrossServiceImport, 'domain-no-io': domainNoIo },
};
