import { readFileSync } from 'node:fs';
import { ConfigError } from '@agora/kernel';
import { packageFile } from '@agora/platform';

/** deploy/nginx/agora.conf.template: the upstream and server blocks, to include inside `http {}`. */
export const NGINX_TEMPLATE = packageFile(import.meta.url, '../../deploy/nginx/agora.conf.template');

/** Passive health check of each gateway (see the template's notes). */
export const NGINX_UPSTREAM_DEFAULTS = { maxFails: 3, failTimeoutS: 5 } as const;

export interface NginxOptions {
  /** What nginx listens on: `8088` or `127.0.0.1:8088`. */
  listen: string;
  /** The gateways: `8080` (on 127.0.0.1) or `host:port` each. */
  gateways: readonly string[];
  template?: string;
}

const PORT = /^\d{1,5}$/;
const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function address(value: string, what: string, defaultHost: string | undefined): string {
  const trimmed = value.trim();
  const port = PORT.test(trimmed) ? trimmed : HOST_PORT.exec(trimmed)?.[2];
  if (port === undefined || Number(port) < 1 || Number(port) > 65535) throw new ConfigError(what, `must be PORT or HOST:PORT, got "${value}"`);
  if (PORT.test(trimmed)) return defaultHost === undefined ? trimmed : `${defaultHost}:${trimmed}`;
  return trimmed;
}

/** The template with {{LISTEN}} and {{GATEWAYS}} filled in: an `upstream` and a `server` block. */
export function renderNginxConfig(options: NginxOptions): string {
  if (options.gateways.length === 0) throw new ConfigError('--gateways', 'name at least one gateway');
  const listen = address(options.listen, '--listen', undefined);
  const servers = options.gateways
    .map((g) => `    server ${address(g, '--gateways', '127.0.0.1')} max_fails=${NGINX_UPSTREAM_DEFAULTS.maxFails} fail_timeout=${NGINX_UPSTREAM_DEFAULTS.failTimeoutS}s;`)
    .join('\n');
  const template = options.template ?? readFileSync(NGINX_TEMPLATE, 'utf8');
  // Comment lines mention the placeholders too: only directives are filled in.
  const lines = template.split('\n');
  const directives = lines.filter((line) => !line.trimStart().startsWith('#')).join('\n');
  if (!directives.includes('{{LISTEN}}') || !directives.includes('{{GATEWAYS}}')) throw new Error(`${NGINX_TEMPLATE} lacks {{LISTEN}} or {{GATEWAYS}}`);
  return lines.map((line) => (line.trimStart().startsWith('#') ? line : line.replaceAll('{{LISTEN}}', listen).replaceAll('{{GATEWAYS}}', servers))).join('\n');
}
