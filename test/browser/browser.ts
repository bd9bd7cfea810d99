import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { servicesRequired } from '@agora/platform/testing';

/** Debian's chromium (`apt-get install chromium`); no browser is ever downloaded. */
export const CHROMIUM = '/usr/bin/chromium';
export const WEB_DIST = fileURLToPath(new URL('../../apps/web/dist', import.meta.url));
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/browser/', import.meta.url));
const BUILD_SCRIPT = fileURLToPath(new URL('../../apps/web/scripts/build-if-stale.ts', import.meta.url));

/**
 * True when the browser tests can run. Without Chromium they are skipped with a message; with
 * AGORA_REQUIRE_SERVICES=1 (CI) a missing Chromium is a failure instead (the caller adds the
 * failing test, so the run says what is missing).
 */
export function chromiumAvailable(): boolean {
  const present = existsSync(CHROMIUM);
  if (!present && !servicesRequired()) {
    console.warn(`browser tests skipped: ${CHROMIUM} is missing (install it with: apt-get install chromium)`);
  }
  return present;
}

export const chromiumRequiredButMissing = (): boolean => !existsSync(CHROMIUM) && servicesRequired();

/** Builds apps/web into dist when it is missing or older than its sources (a no-op when current). */
export function buildWebApp(): string {
  execFileSync(process.execPath, ['--import', 'tsx', BUILD_SCRIPT], { stdio: 'inherit' });
  return WEB_DIST;
}

export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 375, height: 812 };

/**
 * A page that records what the browser complained about: uncaught errors and console errors other
 * than the failed-resource lines Chromium prints for every 4xx the app expects (a declined card).
 */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  problems: string[];
}

export async function openPage(browser: Browser, baseURL: string, viewport = DESKTOP): Promise<WatchedPage> {
  const context = await browser.newContext({ baseURL, viewport, ...(viewport.width < 500 ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}) });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    problems.push(`console error: ${text}`);
  });
  return { page, context, problems };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const path = `${ARTIFACTS}${name}.png`;
  // From the top, so sticky parts (the admin nav) sit where a reader expects them.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The page's session as the app keeps it, so a test can start signed in without the login form. */
export async function signInWithToken(context: BrowserContext, session: { token: string; user: unknown }): Promise<void> {
  const value = JSON.stringify(JSON.stringify(session));
  await context.addInitScript({ content: `localStorage.setItem('agora.session', ${value});` });
}
