// A private Docker daemon for `pnpm test:docker`: Debian's dockerd with its own data root, exec root, pid file, socket
// and bridge under one temporary directory, so it never meets a Docker the machine already runs. Everything it
// changes on the host is undone by `stop()`, which is synchronous so that it can also run from a signal handler:
// its containers' processes and mounts, its iptables rules and chains (dockerd adds DOCKER* chains, sets the FORWARD
// policy to DROP and turns on IP forwarding), its bridges, and the directory with every image and volume in it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Dockerd {
  /** Environment for docker and docker-compose: DOCKER_HOST at this daemon, the legacy builder. */
  readonly env: NodeJS.ProcessEnv;
  readonly dir: string;
  /** Another Docker had created the DOCKER* iptables chains before this one started (so they stay). */
  readonly hadChainsBefore: boolean;
  /** dockerd's own log, for failure messages. */
  log(): string;
  /** Stops the daemon and undoes everything it changed; safe to call twice, never throws. */
  stop(): string[];
}

const DOCKER_CHAINS = ['DOCKER', 'DOCKER-USER', 'DOCKER-ISOLATION-STAGE-1', 'DOCKER-ISOLATION-STAGE-2'];

function run(cmd: string, args: readonly string[], timeoutMs = 60_000) {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
}

const links = () =>
  run('ip', ['-o', 'link', 'show'])
    .stdout.split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n);

const chains = (table: string) =>
  run('iptables', ['-t', table, '-S'])
    .stdout.split('\n')
    .filter((l) => l.startsWith('-N '))
    .map((l) => l.slice(3));

/**
 * Starts dockerd under `dir` and waits until it answers. The default bridge is one this function creates, with a
 * name and subnet of its own: dockerd's docker0 would collide with any other Docker on the machine.
 */
export async function startDockerd(dir: string): Promise<Dockerd> {
  const bridge = `gradqd${process.pid % 100_000}`;
  const subnet = `10.199.${process.pid % 250}`;
  const linksBefore = new Set(links());
  const chainsBefore = new Set([...chains('filter'), ...chains('nat')].filter((c) => DOCKER_CHAINS.includes(c)));
  const forwardPolicy = /^-P FORWARD (\w+)/m.exec(run('iptables', ['-S', 'FORWARD']).stdout)?.[1] ?? 'ACCEPT';
  const ipForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const socket = join(dir, 'docker.sock');
  const logPath = join(dir, 'dockerd.log');
  let child: ChildProcess | undefined;
  let stopped = false;

  const stop = (): string[] => {
    if (stopped) return [];
    stopped = true;
    const problems: string[] = [];
    const note = (what: string, r: ReturnType<typeof run>) => {
      if (r.status !== 0) problems.push(`${what}: ${(r.stderr || String(r.error ?? '')).trim()}`);
    };
    // Containers first, through the daemon, so that it removes their network plumbing itself.
    if (child?.exitCode === null) {
      const ids = run('docker', ['-H', `unix://${socket}`, 'ps', '-aq'], 30_000)
        .stdout.split('\n')
        .filter(Boolean);
      if (ids.length) run('docker', ['-H', `unix://${socket}`, 'rm', '-f', ...ids], 120_000);
      child.kill('SIGTERM');
      const deadline = Date.now() + 30_000;
      while (pidAlive(child.pid) && Date.now() < deadline) run('sleep', ['0.2']);
      if (pidAlive(child.pid)) child.kill('SIGKILL');
    }
    // Whatever it started that outlived it (containerd, shims, docker-proxy): each named by our directory.
    for (const pid of processesMentioning(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (const mount of mountsUnder(dir).reverse()) run('umount', ['-l', mount]);
    // iptables: every rule that jumps to a Docker chain or names one of our bridges, then the chains themselves
    // unless another Docker had them before us.
    const ours = (iface: string) => iface === bridge || (iface.startsWith('br-') && !linksBefore.has(iface));
    for (const table of ['filter', 'nat']) {
      for (const rule of run('iptables', ['-t', table, '-S']).stdout.split('\n')) {
        if (!rule.startsWith('-A ')) continue;
        const args = rule.split(/\s+/);
        const chain = args[1] ?? '';
        const target = args[args.indexOf('-j') + 1] ?? '';
        const ifaces = args.flatMap((a, i) => (a === '-i' || a === '-o' ? [args[i + 1] ?? ''] : []));
        if (DOCKER_CHAINS.includes(chain) && chainsBefore.size === 0) continue; // flushed below
        if ((DOCKER_CHAINS.includes(target) && chainsBefore.size === 0) || ifaces.some(ours)) {
          note(`iptables -t ${table} -D ${rule.slice(3)}`, run('iptables', ['-t', table, '-D', ...args.slice(1)]));
        }
      }
      if (chainsBefore.size > 0) continue;
      const left = chains(table).filter((c) => DOCKER_CHAINS.includes(c));
      for (const c of left) run('iptables', ['-t', table, '-F', c]);
      for (const c of left) note(`iptables -t ${table} -X ${c}`, run('iptables', ['-t', table, '-X', c]));
    }
    note('iptables -P FORWARD', run('iptables', ['-P', 'FORWARD', forwardPolicy]));
    try {
      writeFileSync('/proc/sys/net/ipv4/ip_forward', ipForward);
    } catch (err) {
      problems.push(`ip_forward: ${(err as Error).message}`);
    }
    for (const link of links()) {
      if (linksBefore.has(link)) continue;
      if (link === bridge || link.startsWith('br-') || link.startsWith('veth')) run('ip', ['link', 'delete', link]);
    }
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      problems.push(`rm ${dir}: ${(err as Error).message}`);
    }
    return problems;
  };

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DOCKER_HOST: `unix://${socket}`,
    // The legacy builder: BuildKit would pull docker/dockerfile and its own images, and there is no registry here.
    DOCKER_BUILDKIT: '0',
    COMPOSE_DOCKER_CLI_BUILD: '0',
    DOCKER_CONFIG: join(dir, 'client-config'),
  };
  const handle: Dockerd = { env, dir, hadChainsBefore: chainsBefore.size > 0, log: () => tail(logPath), stop };
  try {
    const made = run('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
    if (made.status !== 0) throw new Error(`ip link add ${bridge}: ${made.stderr.trim()}`);
    run('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
    run('ip', ['link', 'set', bridge, 'up']);
    const out = openSync(logPath, 'a');
    child = spawn(
      'dockerd',
      [
        `--data-root=${join(dir, 'data')}`,
        `--exec-root=${join(dir, 'exec')}`,
        `--pidfile=${join(dir, 'dockerd.pid')}`,
        `--host=unix://${socket}`,
        `--bridge=${bridge}`,
        // Published ports that name no address bind to loopback only.
        '--ip=127.0.0.1',
      ],
      { stdio: ['ignore', out, out] },
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`dockerd exited with code ${child.exitCode}:\n${tail(logPath)}`);
      if (existsSync(socket) && run('docker', ['-H', `unix://${socket}`, 'version'], 10_000).status === 0) break;
      if (Date.now() > deadline) throw new Error(`dockerd did not answer within 60 s:\n${tail(logPath)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return handle;
  } catch (err) {
    stop();
    throw err;
  }
}

/** Running, not a zombie: a blocked event loop does not reap its children, so `kill(pid, 0)` alone says too little. */
function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const state = /\) (\w)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}

function processesMentioning(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(dir)) found.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return found;
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p.startsWith(`${dir}/`));
}

function tail(path: string, chars = 4000): string {
  try {
    return readFileSync(path, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}
