import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Gauge } from 'prom-client';
import { createCoordinatorMetrics } from './coordinator-metrics';
import { type MetricsServer, startMetricsServer } from './metrics-server';
import { createMetricsRegistry } from './registry';

describe('startMetricsServer', () => {
  const registry = createMetricsRegistry({ role: 'coordinator', defaultMetrics: false });
  const metrics = createCoordinatorMetrics(registry);
  let server: MetricsServer;

  before(async () => {
    server = await startMetricsServer(registry, { port: 0, host: '127.0.0.1' });
  });
  after(() => server.close());

  test('port 0 binds an ephemeral port', () => {
    assert.ok(server.port > 0);
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
  });

  test('GET /metrics serves the registry in the Prometheus text format', async () => {
    metrics.trainLoss.set(0.125);
    const res = await fetch(`${server.url}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), registry.contentType);
    assert.match(await res.text(), /^gradq_train_loss\{role="coordinator"\} 0\.125$/m);
  });

  test('a query string does not change the route', async () => {
    assert.equal((await fetch(`${server.url}/metrics?x=1`)).status, 200);
  });

  test('GET /healthz answers ok', async () => {
    const res = await fetch(`${server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'ok\n');
  });

  test('exposes nothing else: other paths 404, other methods 405', async () => {
    for (const path of ['/', '/metrics/', '/debug', '/../etc/passwd']) {
      assert.equal((await fetch(`${server.url}${path}`)).status, 404, path);
    }
    const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  test('routes: read-only pages by exact path, 404 while one has nothing, 405 for anything but GET/HEAD', async () => {
    let body: string | undefined;
    const pages = await startMetricsServer(registry, {
      port: 0,
      host: '127.0.0.1',
      routes: {
        '/': () => ({ type: 'text/html', body: '<p>run</p>' }),
        '/api/run': () => (body === undefined ? undefined : { type: 'application/json', body }),
      },
    });
    try {
      const page = await fetch(`${pages.url}/?poll=1`);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('content-type'), 'text/html');
      assert.equal(await page.text(), '<p>run</p>');
      assert.equal((await fetch(`${pages.url}/api/run`)).status, 404);
      body = '{"step":1}';
      assert.equal(await (await fetch(`${pages.url}/api/run`)).text(), body);
      assert.equal((await fetch(`${pages.url}/api/run`, { method: 'POST', body: '{}' })).status, 405);
      assert.equal((await fetch(`${pages.url}/api`)).status, 404);
      assert.equal((await fetch(`${pages.url}/metrics`)).status, 200);
    } finally {
      await pages.close();
    }
  });

  test('a failing collect answers 500 and reports the error without crashing', async () => {
    const broken = createMetricsRegistry({ role: 'worker', defaultMetrics: false });
    new Gauge({
      name: 'gradq_broken',
      help: 'throws on collect',
      registers: [broken],
      collect() {
        throw new Error('collect exploded');
      },
    });
    const errors: Error[] = [];
    const s = await startMetricsServer(broken, { host: '127.0.0.1', onError: (e) => errors.push(e) });
    try {
      assert.equal((await fetch(`${s.url}/metrics`)).status, 500);
      assert.match(errors[0]?.message ?? '', /collect exploded/);
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    } finally {
      await s.close();
    }
  });

  test('rejects with the address when the port is taken', async () => {
    await assert.rejects(
      startMetricsServer(registry, { port: server.port, host: '127.0.0.1' }),
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${server.port}`),
    );
  });

  test('close() returns promptly even with a keep-alive connection open (Prometheus holds one)', async () => {
    const s = await startMetricsServer(registry, { host: '127.0.0.1' });
    const agent = new Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      const req = request(`${s.url}/metrics`, { agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    const started = Date.now();
    await s.close();
    assert.ok(Date.now() - started < 1000);
    agent.destroy();
  });
});
