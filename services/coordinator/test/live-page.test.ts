// The live run page of `pnpm start` (#16), in a real browser: headless Chromium (Debian's, driven by playwright-core)
// opens the URL pnpm start prints, during a run on real MNIST, and sees the loss curve gain points, the step-time
// figure and the reconstruction preview load, with no error in the page (the CSP blocks anything not served here).
// The page is read-only: anything but GET/HEAD is refused. Set GRADQ_LIVE_SCREENSHOT=file.png to keep a screenshot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLI, cliEnv, findTool, serviceRig, skipWithoutTool, uniqueRunId, waitUntil } from '@gradq/testing';
import { chromium } from 'playwright-core';

const rig = serviceRig('live-page');
const TEST_TIMEOUT_MS = 420_000;
// Debian's chromium (what skipWithoutTool('chromium') probed); playwright-core downloads no browser of its own.
const CHROMIUM = findTool('chromium')?.[0] ?? process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

// 8,192 samples, batch 128: 64 steps an epoch, more than the test needs (it stops the run with Ctrl-C); a
// checkpoint (so a preview) every 16 steps.
const HYPER = ['--limit', '8192', '--epochs', '20', '--checkpoint-every', '16'];

test('pnpm start prints its live page; Chromium sees the curves grow and the preview load', {
  timeout: TEST_TIMEOUT_MS,
  skip: skipWithoutTool('chromium'),
}, async () => {
  await rig.ready;
  // The browser first: where it cannot start (GRADQ_REQUIRE_TOOLS=1 without chromium) the test fails at once.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const run = rig.procs.spawn(
    CLI.start,
    [...HYPER, '--run-id', uniqueRunId('live'), '--workers', '1', '--redis-url', rig.server.url],
    // Ports 0: the page's URL is read from what pnpm start prints.
    { env: cliEnv({ CHECKPOINT_DIR: rig.dir, METRICS_PORT: '0', WORKER_METRICS_PORT: '0' }), name: 'start' },
  );
  try {
    const url = (await run.waitForStderr(/watch the run: (http:\/\/127\.0\.0\.1:\d+\/)\s/, 120_000))[1] as string;

    // Read-only: no method but GET and HEAD, no path but the page's.
    for (const path of ['', 'api/run', 'preview.png'])
      assert.equal((await fetch(`${url}${path}`, { method: 'POST', body: '{}' })).status, 405, `POST /${path}`);
    assert.equal((await fetch(`${url}api/stop`)).status, 404);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    await page.goto(url);

    const points = async () => Number(await page.locator('#loss-chart').getAttribute('data-points'));
    const live = <T>(what: string, check: () => Promise<T | undefined>) =>
      waitUntil(
        what,
        async () => {
          if (!run.running()) throw new Error(`the run ended before the page showed ${what}:\n${run.tail()}`);
          return check();
        },
        180_000,
        250,
      );
    const first = await live('a first loss point', async () => ((await points()) > 0 ? points() : undefined));
    const more = await live('the loss curve gaining points', async () => {
      const now = await points();
      return now > first ? now : undefined;
    });
    assert.ok(more > first);
    // uPlot drew them (a canvas in the chart), and the samples/s curve has them too.
    assert.equal(await page.locator('#loss-chart canvas').count(), 1);
    assert.ok(Number(await page.locator('#rate-chart').getAttribute('data-points')) > 0);
    await live('the step-time figure', async () =>
      (await page.locator('#parts div').count()) === 4 ? true : undefined,
    );
    assert.match((await page.locator('#parts-legend').textContent()) ?? '', /waiting for gradients [\d.]+ ms/);
    assert.match((await page.locator('#workers').textContent()) ?? '', /^1$/);

    // The preview: the image of the latest checkpoint, loaded (its natural size is the PNG's).
    const width = await live('the reconstruction preview to load', async () => {
      const w = await page
        .locator('#preview')
        // The tests compile without the DOM's types: the image's fields, as this callback reads them in the page.
        .evaluate((img) => {
          const i = img as unknown as { complete: boolean; hidden: boolean; naturalWidth: number };
          return i.complete && !i.hidden ? i.naturalWidth : 0;
        });
      return w > 0 ? w : undefined;
    });
    assert.ok(width > 100, `preview ${width} px wide`);
    assert.match((await page.locator('#preview-step').textContent()) ?? '', /checkpoint at step \d+/);
    // One more poll after the checks, so an error they raced with shows.
    await page.waitForTimeout(1200);
    if (process.env.GRADQ_LIVE_SCREENSHOT)
      await page.screenshot({ path: process.env.GRADQ_LIVE_SCREENSHOT, fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    run.kill('SIGINT');
    await run.exited;
  }
});
