// Takes docs/live-page.png: opens a running `pnpm start`'s live page in headless Chromium (Debian's), waits until the
// run has passed `--after-step` and its preview has loaded, and saves a screenshot.
//   pnpm start --epochs 2 &   # prints "watch the run: http://127.0.0.1:9400/"
//   node --import tsx services/coordinator/test/support/screenshot-live-page.ts http://127.0.0.1:9400/ docs/live-page.png 700
import { chromium } from 'playwright-core';

const [url = 'http://127.0.0.1:9400/', out = 'docs/live-page.png', afterStep = '0'] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium' });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  await page.goto(url);
  await page.waitForFunction(
    (after) => {
      // Runs in the page; the scripts compile without the DOM's types.
      type Element = { textContent: string | null; complete: boolean; naturalWidth: number; hidden: boolean };
      const doc = (globalThis as unknown as { document: { getElementById(id: string): Element } }).document;
      const step = Number((doc.getElementById('step').textContent ?? '').split('/')[0]?.replace(/,/g, ''));
      const img = doc.getElementById('preview');
      return step >= after && img.complete && !img.hidden && img.naturalWidth > 0;
    },
    Number(afterStep),
    { timeout: 600_000, polling: 500 },
  );
  // One more poll, so the figures and the preview belong to the same second.
  await page.waitForTimeout(1100);
  await page.screenshot({ path: out });
  process.stdout.write(`${out}\n`);
} finally {
  await browser.close();
}
