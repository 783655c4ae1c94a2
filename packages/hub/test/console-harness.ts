import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from '@jest/globals';
import type { Page } from 'playwright-core';

// Shared by the console's browser tests (issue 21): the bundle, accessibility checks and screenshots.

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BUILD_SCRIPT = join(REPO, 'packages', 'console', 'scripts', 'build.mjs');

/** Builds the console's bundle unless it is newer than its sources (a fresh clone builds it; a re-run does not). */
export function buildConsoleIfStale(): void {
  execFileSync(process.execPath, [BUILD_SCRIPT, '--if-stale'], { stdio: 'pipe' });
}

/** Where screenshots go: `MERIDIAN_CONSOLE_SCREENSHOTS`, else `<repo>/test-results/console/`. */
function screenshotDir(): string {
  const dir = process.env.MERIDIAN_CONSOLE_SCREENSHOTS ?? join(REPO, 'test-results', 'console');
  mkdirSync(dir, { recursive: true });
  return dir;
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * Checks the page as it is now with axe-core (WCAG 2.x A and AA rules) and
 * fails on any serious or critical violation. axe is evaluated through the
 * DevTools protocol, which the page's CSP does not govern: the page itself
 * still loads no inline script.
 */
async function expectAccessible(page: Page, name: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  // The callback runs in the page (typed here without the DOM library).
  const violations = await page.evaluate(async () => {
    const inPage = globalThis as unknown as {
      document: unknown;
      axe: { run: (context: unknown, options: object) => Promise<{ violations: AxeViolation[] }> };
    };
    const result = await inPage.axe.run(inPage.document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect({
    page: name,
    violations: serious.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
  }).toEqual({
    page: name,
    violations: [],
  });
}

/** Writes a full-page screenshot named after the page, for review. */
async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screenshotDir(), `${name}.png`), fullPage: true });
}

/** Checks a page for accessibility, then screenshots it: what every test does on every page it visits. */
export async function visited(page: Page, name: string): Promise<void> {
  await expectAccessible(page, name);
  await screenshot(page, name);
}

/** Collects what the browser reports of a page: errors and Content Security Policy violations. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    // Chromium asks every origin for /favicon.ico by itself (the provider's sign-in page names no icon): not the page's doing.
    if (message.location().url.endsWith('/favicon.ico')) return;
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text()))
      problems.push(`${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
  return problems;
}

/**
 * Signs in to the console at `origin` as a new user would: the community, then the provider's sign-in form, then
 * back at Home (OpenID Connect authorization code flow with PKCE, RFC 7636). Says where the sign-in stopped otherwise.
 */
export async function signInToConsole(
  page: Page,
  origin: string,
  account: { community: string; userName: string; password: string },
): Promise<void> {
  await page.goto(`${origin}/console/`);
  await page.getByRole('textbox', { name: 'Community' }).fill(account.community);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('User name').fill(account.userName);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page
    .getByRole('heading', { name: 'Home', level: 1 })
    .waitFor()
    .catch(async (error: unknown) => {
      throw new Error(`${String(error)}\nat ${page.url()}: ${((await page.locator('body').textContent()) ?? '').slice(0, 600)}`);
    });
}
