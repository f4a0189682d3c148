import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { PageRoute } from '@gradq/telemetry';
import type { RunHistory } from './history';

const require = createRequire(import.meta.url);
const pageFile = (name: string) => new URL(`./page/${name}`, import.meta.url);

// The page loads only what this server sends: no CDN (it must work offline), no inline script.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'";

/**
 * The live run page's read-only routes, for the coordinator's metrics server: the page (`/`, its script and
 * style), uPlot's UMD build from node_modules (no build step), the run's curves as JSON (`/api/run`, built on each
 * request) and the latest checkpoint's reconstruction preview (`/preview.png`, 404 until the first checkpoint).
 * Files are read once, here.
 */
export function liveRoutes(history: RunHistory): Record<string, PageRoute> {
  const file = (type: string, path: URL | string, headers: Record<string, string> = {}): PageRoute => {
    const body = readFileSync(path);
    return () => ({ type, body, headers });
  };
  return {
    '/': file('text/html; charset=utf-8', pageFile('index.html'), { 'content-security-policy': CSP }),
    '/live.js': file('text/javascript; charset=utf-8', pageFile('live.js')),
    '/live.css': file('text/css; charset=utf-8', pageFile('live.css')),
    // Browsers ask for an icon; a 404 would be the page's one console error.
    '/favicon.ico': file('image/svg+xml', pageFile('favicon.svg')),
    '/uplot.js': file('text/javascript; charset=utf-8', require.resolve('uplot/dist/uPlot.iife.min.js')),
    '/uplot.css': file('text/css; charset=utf-8', require.resolve('uplot/dist/uPlot.min.css')),
    '/api/run': () => ({ type: 'application/json', body: JSON.stringify(history.snapshot()) }),
    '/preview.png': () => {
      const png = history.previewImage;
      return png ? { type: 'image/png', body: png } : undefined;
    },
  };
}
