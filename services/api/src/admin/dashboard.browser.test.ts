import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Queue } from 'bullmq';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '@bursar/platform';
import { testRedisUrl } from '@bursar/test-support';
import { ensureCommand } from '../../../../scripts/lib/dependencies.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, STAFF_PASSWORD, createTestApi } from '../testing/harness.js';
import { dashboardQueueNames } from './admin-board.js';
import { emailOf, failedPaymentJob } from './admin.testing.js';
import { WITHHELD } from './admin.routes.js';

// Generous waits inside the test: a cold Chromium on a loaded CI machine is slow to first paint.
const UI_TIMEOUT_MS = 20_000;
const REASON = 'provider event could not be matched';
/** The Content-Security-Policy Caddy sets on every answer (read from the Caddyfile, not copied). */
const EDGE_CSP = /Content-Security-Policy "([^"]+)"/.exec(
  readFileSync(fileURLToPath(new URL('../../../../Caddyfile', import.meta.url)), 'utf8'),
)![1]!;

describe('job dashboard in a browser', async () => {
  const api = await createTestApi();
  const redis = createRedis(testRedisUrl(), 'worker');
  afterAll(() => redis.quit());
  const queues: Queue[] = [];
  afterAll(() => Promise.all(queues.map((queue) => queue.close())));
  let browser: Browser;
  /** CSP violations the pages reported, but the Google Fonts stylesheet the policy is meant to block. */
  const cspViolations: string[] = [];

  beforeAll(async () => {
    ensureCommand('chromium', { apt: 'chromium', brew: 'chromium' }, 'the dashboard browser test drives it');
    // No --user-data-dir: playwright gives each launch a fresh temporary profile and removes it.
    browser = await chromium.launch({
      // Debian's is /usr/bin/chromium; brew's lands elsewhere on the PATH.
      executablePath: execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim(),
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);
  afterAll(() => browser?.close());

  const signInThroughForm = async (email: string, password: string): Promise<Page> => {
    const context = await browser.newContext({ baseURL: api.url });
    // Hermetic: Bull Board's page asks Google Fonts for its typeface; nothing but the test api is reached.
    // The api's answers get the edge's CSP, as Caddy adds it, so the board is tested under it.
    await context.route('**/*', async (route) => {
      if (new URL(route.request().url()).origin !== new URL(api.url).origin) return route.abort();
      const response = await route.fetch({ maxRedirects: 0 });
      await route.fulfill({
        response,
        headers: { ...response.headers(), 'content-security-policy': EDGE_CSP },
      });
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/content security policy/i.test(message.text())) cspViolations.push(message.text());
    });
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    await page.goto('/admin/queues');
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((url) => url.pathname.startsWith('/admin/queues'));
    return page;
  };
  /** Closes a page's context once the board's requests still in flight through the route above are let go. */
  const closeContext = async (page: Page) => {
    await page.context().unrouteAll({ behavior: 'ignoreErrors' });
    await page.context().close();
  };
  /** The per-job action buttons that retry (Bull Board draws them as a refresh icon with a tooltip). */
  const retryIconsOf = (page: Page) =>
    page.locator('[data-base-ui-tooltip-trigger] button:has(svg.lucide-refresh-cw)');
  /** Opens the payments queue's failed jobs and waits for a failure reason as the viewer may read it. */
  const openFailedTab = async (page: Page, reason = REASON) => {
    await page.goto('/admin/queues/queue/payments?status=failed');
    await page.getByText(reason).first().waitFor();
  };

  it('signs a platform admin in through the form, shows every queue, and retries a failed job', async () => {
    const failed = await failedPaymentJob(redis, api.queuePrefix, REASON);
    queues.push(failed.queue);
    const page = await signInThroughForm(ADMIN_EMAIL, ADMIN_PASSWORD);
    for (const name of dashboardQueueNames()) {
      await expect
        .poll(() => page.getByText(name, { exact: true }).count(), { timeout: UI_TIMEOUT_MS })
        .toBeGreaterThan(0);
    }
    await openFailedTab(page);
    // The job card's Retry is an icon button named only by its tooltip: find it by its icon, check the tooltip.
    const retry = retryIconsOf(page).first();
    await retry.hover();
    await page.getByText('Retry', { exact: true }).waitFor();
    await retry.click();
    const retried = page.waitForResponse(
      (response) =>
        response.request().method() === 'PUT' && response.url().endsWith(`/${failed.job.id}/retry`),
    );
    await page.getByRole('button', { name: 'Confirm' }).click();
    expect((await retried).status()).toBeLessThan(300);
    await expect.poll(() => failed.job.getState(), { timeout: UI_TIMEOUT_MS }).toBe('waiting');
    expect(cspViolations.filter((text) => !text.includes('fonts.googleapis.com'))).toEqual([]);
    await closeContext(page);
  }, 60_000);

  it('shows a school admin the failed job with no Retry button, and no reason of a job not of their school', async () => {
    const failed = await failedPaymentJob(redis, api.queuePrefix, REASON);
    queues.push(failed.queue);
    const caller = await api.callerFor('school_admin', api.demoSchoolId);
    const page = await signInThroughForm(await emailOf(api, caller.userId), STAFF_PASSWORD);
    // A payment event's job names no school: the board lists it, its reason withheld.
    await openFailedTab(page, WITHHELD);
    expect(await page.getByText(REASON).count()).toBe(0);
    expect(await page.getByRole('button', { name: /retry/i }).count()).toBe(0);
    expect(await retryIconsOf(page).count()).toBe(0);
    expect(await failed.job.getState()).toBe('failed');
    await closeContext(page);
  }, 60_000);
});
