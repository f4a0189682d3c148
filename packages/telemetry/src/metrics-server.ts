import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What a read-only page route answers; `undefined` is a 404 (nothing to show yet). Rendered on each request. */
export type PageRoute = () => { type: string; body: string | Uint8Array; headers?: Record<string, string> } | undefined;

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /**
   * TCP port; 0 picks a free ephemeral port (tests). Default: 0. Services pass their --metrics-port / `METRICS_PORT`
   * (options.ts).
   */
  port?: number;
  /**
   * Interface to bind. Default: `'0.0.0.0'`, because Prometheus scrapes from another container; tests pass
   * `'127.0.0.1'`.
   */
  host?: string;
  /**
   * Called with server errors after start-up and with failures to collect metrics; it must not throw.
   * Default: one line on stderr (a broken /metrics must never take the trainer down).
   */
  onError?: (error: Error) => void;
  /**
   * More read-only GET paths (the coordinator's live run page: `/`, `/api/run`...), by exact path. Default: none.
   * They are answered like /metrics: GET and HEAD only, nothing they serve can change the run.
   */
  routes?: Readonly<Record<string, PageRoute>>;
  /**
   * Lines that `/healthz` answers after `ok` (a worker names its engine there). Default: none, so just `ok`.
   */
  health?: () => readonly string[];
}

/** A running metrics server. */
export interface MetricsServer {
  /** The port actually bound (the ephemeral one when asked for 0). */
  port: number;
  /** Base URL to reach it from this host, e.g. `http://127.0.0.1:9400` (0.0.0.0 is replaced by loopback). */
  url: string;
  /** Stops listening and drops open keep-alive connections (Prometheus keeps one), so shutdown is not held up. */
  close(): Promise<void>;
}

const defaultOnError = (error: Error): void => {
  console.error(`[metrics] ${error.message}`);
};

/**
 * Serves `GET /metrics` (Prometheus text format from `registry`), `GET /healthz` and the read-only `routes` on
 * node:http. Nothing else is served: every other path is 404 and every other method 405, so the port can be exposed
 * without exposing anything but what the run already shows. Resolves once listening; rejects if the port cannot be bound.
 */
export async function startMetricsServer(
  registry: Registry,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const host = options.host ?? '0.0.0.0';
  const onError = options.onError ?? defaultOnError;

  const routes = new Map(Object.entries(options.routes ?? {}));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Only the path matters; a query string (some scrapers add one) must not turn /metrics into a 404.
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const route = routes.get(path);
    if (path !== '/metrics' && path !== '/healthz' && !route) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    if (route) {
      const page = route();
      if (!page) {
        res
          .writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
          .end('not yet\n');
        return;
      }
      res.writeHead(200, { 'content-type': page.type, 'cache-control': 'no-store', ...page.headers });
      res.end(req.method === 'HEAD' ? undefined : page.body);
      return;
    }
    if (path === '/healthz') {
      const body = ['ok', ...(options.health?.() ?? [])].join('\n');
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${body}\n`);
      return;
    }
    let body: string;
    try {
      body = await registry.metrics();
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed\n');
      return;
    }
    res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      onError(error instanceof Error ? error : new Error(String(error)));
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // A malformed request from a port scanner must cost one socket, not an unhandled 'error' event.
  server.on('clientError', (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    const onListenError = (error: Error) =>
      reject(new Error(`metrics server cannot listen on ${host}:${options.port ?? 0}: ${error.message}`));
    server.once('error', onListenError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onListenError);
      server.on('error', onError);
      resolve();
    });
  });

  const { port } = server.address() as AddressInfo;
  const reachableHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${reachableHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
