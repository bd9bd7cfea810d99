/*
 * Reads the route tables of docs/api.md, so a test can hold them against the OpenAPI document the
 * gateway builds from its routes: the page and the code cannot drift apart unnoticed.
 */

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export interface DocumentedRoute {
  method: string;
  /** OpenAPI style: `/api/v1/products/{id}`, without the query string. */
  path: string;
  /** The `## ` section the row is in. */
  section: string;
  /** 2xx statuses the row's last cell names, ascending. */
  successes: number[];
}

const ROW = new RegExp(`^\\|\\s*(${HTTP_METHODS.join('|')})\\s*\\|\\s*\`([^\`]+)\`\\s*\\|`);
const SUCCESS = /\b(20[0-6])\b/g;

/** `/api/v1/products/:id?q=` → `/api/v1/products/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/\?.*$/, '').replace(/:([A-Za-z][A-Za-z0-9]*)/g, '{$1}');
}

/** Every `| METHOD | \`path\` | ... |` row of the page's tables, with its section. */
export function documentedRoutes(markdown: string): DocumentedRoute[] {
  const routes: DocumentedRoute[] = [];
  let section = '';
  for (const line of markdown.split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const match = ROW.exec(line);
    if (!match) continue;
    const cells = line.split(/(?<!\\)\|/).slice(1, -1);
    const answers = cells.at(-1) ?? '';
    const successes = [...new Set([...answers.matchAll(SUCCESS)].map((m) => Number(m[1])))].sort((a, b) => a - b);
    routes.push({ method: match[1] ?? '', path: openApiPath(match[2] ?? ''), section, successes });
  }
  return routes;
}

export interface OpenApiRoutes {
  [route: string]: number[];
}

/** `METHOD path` → its 2xx statuses, from an OpenAPI document's `paths`. */
export function openApiRoutes(document: { paths?: Record<string, Record<string, { responses?: Record<string, unknown> }>> }): OpenApiRoutes {
  const routes: OpenApiRoutes = {};
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!(HTTP_METHODS as readonly string[]).includes(method.toUpperCase())) continue;
      const statuses = Object.keys(operation.responses ?? {})
        .filter((code) => /^2\d\d$/.test(code))
        .map(Number)
        .sort((a, b) => a - b);
      routes[`${method.toUpperCase()} ${path}`] = statuses;
    }
  }
  return routes;
}

const ERROR_ROW = /^\|\s*(\d{3})\s*\|\s*`([A-Z_]+)`\s*\|/;

/** `code → status` from the page's error table rows (`| 409 | \`OUT_OF_STOCK\` | ... |`). */
export function documentedErrorCodes(markdown: string): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const line of markdown.split('\n')) {
    const match = ERROR_ROW.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) codes[match[2]] = Number(match[1]);
  }
  return codes;
}
