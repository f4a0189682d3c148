// What docker-compose.yml refers to exists, and the pieces agree with each other: build contexts and targets, bind
// mounts, Prometheus' scrape targets versus service names and METRICS_PORT, Grafana's datasource and home
// dashboard, health-gated start order, and a worker service that `--scale worker=N` can multiply.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { interpolateDeep } from '../src/index';
import {
  type ComposeService,
  dockerfileStages,
  environmentOf,
  readCompose,
  readRepoFile,
  repoFileExists,
  service,
} from './support/repo';

const compose = interpolateDeep(readCompose(), {});
const services = Object.entries(compose.services);

function buildOf(s: ComposeService) {
  if (!s.build) return undefined;
  return typeof s.build === 'string' ? { context: s.build, dockerfile: 'Dockerfile' } : s.build;
}

/** Bind mounts (host paths), from short `src:dst[:mode]` or long syntax. Named volumes have no `.` or `/`. */
function bindMounts(s: ComposeService): { source: string; target: string; readOnly: boolean }[] {
  return (s.volumes ?? []).flatMap((v) => {
    if (typeof v === 'string') {
      const [source = '', target = '', mode = ''] = v.split(':');
      return /^[./~]/.test(source) ? [{ source, target, readOnly: mode.split(',').includes('ro') }] : [];
    }
    return v.type === 'bind' && v.source ? [{ source: v.source, target: v.target ?? '', readOnly: false }] : [];
  });
}

function hasHealthcheck(name: string, s: ComposeService): boolean {
  if (s.healthcheck && !s.healthcheck.disable) return true;
  const build = buildOf(s);
  if (!build?.target) return false;
  const stage = dockerfileStages(readRepoFile(build.context ?? '.', build.dockerfile ?? 'Dockerfile')).get(
    build.target,
  );
  assert.ok(stage, `${name}: no stage ${build.target}`);
  // The target's own HEALTHCHECK (the gradq images declare it in each final stage).
  return /^HEALTHCHECK\s/m.test(stage);
}

describe('docker-compose.yml wiring', () => {
  test('every build context, Dockerfile and target exists', () => {
    for (const [name, s] of services) {
      const build = buildOf(s);
      if (!build) continue;
      const context = build.context ?? '.';
      const dockerfile = build.dockerfile ?? 'Dockerfile';
      assert.ok(repoFileExists(context), `${name}: build context ${context} is missing`);
      assert.ok(repoFileExists(context, dockerfile), `${name}: ${dockerfile} is missing`);
      if (build.target) {
        const stages = dockerfileStages(readRepoFile(context, dockerfile));
        assert.ok(stages.has(build.target), `${name}: ${dockerfile} has no stage ${build.target}`);
      }
    }
  });

  test('every bind-mounted path exists, and infra/ is mounted read-only where the services expect it', () => {
    const mounts = services.flatMap(([name, s]) => bindMounts(s).map((m) => ({ name, ...m })));
    for (const m of mounts) assert.ok(repoFileExists(m.source), `${m.name}: ${m.source} does not exist`);
    const expected = [
      ['prometheus', './infra/prometheus', '/etc/prometheus'],
      ['grafana', './infra/grafana/provisioning', '/etc/grafana/provisioning'],
      ['grafana', './infra/grafana/dashboards', '/var/lib/grafana/dashboards'],
    ];
    for (const [name, source, target] of expected) {
      const m = mounts.find((x) => x.name === name && x.source === source && x.target === target);
      assert.ok(m, `${name} must mount ${source} at ${target}`);
      assert.ok(m.readOnly, `${name}: ${source} must be mounted read-only`);
    }
  });

  test('every named volume a service uses is declared', () => {
    const declared = new Set(Object.keys(compose.volumes ?? {}));
    for (const [name, s] of services) {
      for (const v of s.volumes ?? []) {
        const source = typeof v === 'string' ? (v.split(':')[0] ?? '') : v.type === 'volume' ? (v.source ?? '') : '';
        if (source && !/^[./~]/.test(source)) assert.ok(declared.has(source), `${name}: volume ${source} not declared`);
      }
    }
  });

  test('depends_on names existing services, and service_healthy only ones with a healthcheck', () => {
    for (const [name, s] of services) {
      const deps = Array.isArray(s.depends_on)
        ? Object.fromEntries(s.depends_on.map((d) => [d, {}]))
        : (s.depends_on ?? {});
      for (const [dep, { condition }] of Object.entries(deps) as [string, { condition?: string }][]) {
        const target = compose.services[dep];
        assert.ok(target, `${name} depends on missing service ${dep}`);
        if (condition === 'service_healthy') assert.ok(hasHealthcheck(dep, target), `${dep} has no healthcheck`);
      }
    }
  });

  test('every long-running service has a healthcheck', () => {
    for (const [name, s] of services) {
      if (s.restart === 'no' && name !== 'coordinator') continue; // one-shot jobs
      assert.ok(hasHealthcheck(name, s), `${name} has no healthcheck`);
    }
  });

  test('workers scale with --scale: no container_name, no fixed host ports; the coordinator waits for Redis and the bucket', () => {
    for (const name of ['worker', 'worker-gpu']) {
      const s = service(compose, name);
      assert.equal(s.container_name, undefined, `${name} must not set container_name`);
      assert.equal(s.ports, undefined, `${name} must not publish host ports`);
    }
    assert.deepEqual(service(compose, 'coordinator').depends_on, {
      redis: { condition: 'service_healthy' },
      createbuckets: { condition: 'service_completed_successfully' },
    });
    assert.deepEqual(service(compose, 'createbuckets').depends_on, { s3: { condition: 'service_healthy' } });
  });

  test('Redis keeps an AOF and never evicts (BullMQ needs every key)', () => {
    const command = service(compose, 'redis').command;
    const args = Array.isArray(command) ? command : String(command).split(/\s+/);
    const after = (flag: string) => args[args.indexOf(flag) + 1];
    assert.equal(after('--appendonly'), 'yes');
    assert.equal(after('--maxmemory-policy'), 'noeviction');
  });

  test('the GPU worker is a profile with an NVIDIA device reservation, the cuda engine, and the `worker` DNS name', () => {
    const gpu = service(compose, 'worker-gpu');
    assert.deepEqual(gpu.profiles, ['gpu']);
    const devices = gpu.deploy?.resources?.reservations?.devices ?? [];
    assert.ok(devices.some((d) => d.driver === 'nvidia' && d.capabilities?.includes('gpu')));
    // cuda, not auto: a GPU worker that cannot reach its GPU must stop, not train on the CPU.
    assert.equal(environmentOf(gpu).GRADQ_ENGINE, 'cuda');
    const networks = gpu.networks as Record<string, { aliases?: string[] } | null> | undefined;
    assert.ok(networks?.default?.aliases?.includes('worker'), 'Prometheus finds workers by the DNS name `worker`');
  });

  test("Prometheus' scrape targets are compose services on their METRICS_PORT", () => {
    const config = parseYaml(readRepoFile('infra/prometheus/prometheus.yml')) as {
      scrape_configs: {
        job_name: string;
        static_configs?: { targets: string[] }[];
        dns_sd_configs?: { names: string[]; port: number }[];
      }[];
    };
    const targets = config.scrape_configs.flatMap((job) => [
      ...(job.static_configs ?? []).flatMap((c) => c.targets),
      ...(job.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${n}:${c.port}`)),
    ]);
    const gradqTargets = targets.filter((t) => !t.startsWith('localhost:'));
    assert.deepEqual(gradqTargets.sort(), ['coordinator:9400', 'worker:9401']);
    for (const target of gradqTargets) {
      const [host = '', port] = target.split(':');
      const s = service(compose, host);
      assert.equal(environmentOf(s).METRICS_PORT, port, `${host} must serve /metrics on ${port}`);
    }
  });

  test('Grafana reads the provisioned datasource from the prometheus service and opens the gradq dashboard', () => {
    const ds = parseYaml(readRepoFile('infra/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { url: string }[];
    };
    const url = new URL(ds.datasources[0]?.url ?? '');
    assert.ok(compose.services[url.hostname], `datasource host ${url.hostname} is not a compose service`);
    const env = environmentOf(service(compose, 'grafana'));
    assert.equal(env.GF_AUTH_ANONYMOUS_ENABLED, 'true');
    assert.equal(env.GF_AUTH_ANONYMOUS_ORG_ROLE, 'Viewer');
    const home = env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    assert.ok(home.startsWith('/var/lib/grafana/dashboards/'));
    const file = home.slice('/var/lib/grafana/dashboards/'.length);
    assert.ok(repoFileExists('infra/grafana/dashboards', file), `home dashboard ${file} is not in infra/`);
    const dashboard = JSON.parse(readRepoFile('infra/grafana/dashboards', file)) as { uid?: string };
    assert.equal(dashboard.uid, 'gradq-training');
  });

  test('MNIST and local checkpoints live in named volumes, checkpoints go to the bundled S3 server by default', () => {
    const coordinator = service(compose, 'coordinator');
    const env = environmentOf(coordinator);
    const volumes = (coordinator.volumes ?? []).filter((v): v is string => typeof v === 'string');
    assert.ok(volumes.includes(`mnist:${env.MNIST_DIR}`), 'MNIST_DIR must be the mnist volume');
    assert.ok(volumes.includes(`checkpoints:${env.CHECKPOINT_DIR}`), 'CHECKPOINT_DIR must be the checkpoints volume');
    assert.equal(env.S3_ENDPOINT, 'http://s3:9000');
    // createbuckets makes the bucket the coordinator writes to, on the server it writes to, with its credentials.
    const createbuckets = environmentOf(service(compose, 'createbuckets'));
    for (const name of ['S3_BUCKET', 'S3_ENDPOINT', 'S3_REGION', 'S3_FORCE_PATH_STYLE', 'AWS_ACCESS_KEY_ID']) {
      assert.equal(createbuckets[name], env[name], `createbuckets' ${name}`);
    }
    // The bundled server's admin identity is the pair the coordinator signs with.
    const s3 = environmentOf(service(compose, 's3'));
    assert.equal(s3.AWS_ACCESS_KEY_ID, env.AWS_ACCESS_KEY_ID);
    assert.equal(s3.AWS_SECRET_ACCESS_KEY, env.AWS_SECRET_ACCESS_KEY);
    assert.ok(repoFileExists('docs/docker.md'), 'docs/docker.md documents the stack');
  });
});
