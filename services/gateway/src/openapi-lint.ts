import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageFile } from '@agora/platform';
import { buildOpenApiDocument } from './openapi-document.js';

/** The repository's redocly.yaml: the recommended ruleset, telemetry off. */
export const REDOCLY_CONFIG = packageFile(import.meta.url, '../../redocly.yaml');

/**
 * Redocly CLI runs from node_modules with nothing to fetch: the recommended ruleset is built in.
 * These keep it from phoning home — usage data (REDOCLY_TELEMETRY, documented in its usage-data
 * page; redocly.yaml says `telemetry: off` too) and the new-version check and notices.
 */
const QUIET_ENV = { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' } as const;

/** Longest the linter may take on the document (it takes under a second). */
const LINT_TIMEOUT_MS = 60_000;

export interface OpenApiLintResult {
  ok: boolean;
  exitCode: number | null;
  /** What redocly printed (its findings and summary), stdout then stderr. */
  output: string;
}

function redoclyBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@redocly/cli/package.json')), 'bin', 'cli.js');
}

/** Writes the gateway's OpenAPI document to a temporary file and lints it with `redocly lint`. */
export async function lintOpenApiDocument(): Promise<OpenApiLintResult> {
  const dir = mkdtempSync(join(tmpdir(), 'agora-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, `${JSON.stringify(await buildOpenApiDocument(), null, 2)}\n`);
    return await new Promise<OpenApiLintResult>((resolve, reject) => {
      const child = spawn(process.execPath, [redoclyBin(), 'lint', file, '--config', REDOCLY_CONFIG, '--format', 'stylish'], {
        env: { ...process.env, ...QUIET_ENV },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: LINT_TIMEOUT_MS,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (exitCode) => resolve({ ok: exitCode === 0, exitCode, output: `${stdout}${stderr}` }));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `npm run lint:openapi`: prints the findings; exits non-zero when there is an error.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await lintOpenApiDocument();
  process.stdout.write(result.output);
  process.exitCode = result.ok ? 0 : 1;
}
