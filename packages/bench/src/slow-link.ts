/**
 * A Redis behind an emulated slow link, for `pnpm bench:local`: a private network namespace holding a private
 * `redis-server`, joined to this one by a veth pair whose two ends are each shaped with `tc ... tbf` (so both
 * directions are limited to `rate`). Every client of that Redis (the coordinator, the workers) reaches it through the
 * link, as machines on a shared slow network would. Needs root, `ip`, `tc` and `redis-server`; touches only the
 * namespace and links it creates, and `close()` removes them (call it on every exit path).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

export interface SlowLink {
  /** `redis://<address>:<port>` of the Redis behind the link. */
  readonly url: string;
  readonly describe: string;
  close(): void;
}

export interface SlowLinkOptions {
  /** tc rate, e.g. `100mbit`. */
  readonly rate: string;
  /** Names the namespace and links (kept short: interface names have 15 characters at most). */
  readonly tag: string;
  readonly port?: number;
}

export async function openSlowLink(o: SlowLinkOptions): Promise<SlowLink> {
  const ns = `gq-${o.tag}`;
  const host = `gqh${o.tag}`.slice(0, 15);
  const peer = `gqp${o.tag}`.slice(0, 15);
  const port = o.port ?? 6390;
  // A /30 of 10.213.x.0 from the tag, so that two benches at once would not collide.
  const octet = [...o.tag].reduce((sum, c) => (sum * 31 + c.charCodeAt(0)) % 250, 7) + 1;
  const [hostIp, peerIp] = [`10.213.${octet}.1`, `10.213.${octet}.2`];
  const run = (args: string[]) => execFileSync(args[0] as string, args.slice(1), { stdio: 'pipe' });
  const inNs = (args: string[]) => run(['ip', 'netns', 'exec', ns, ...args]);
  let redis: ChildProcess | undefined;
  const close = () => {
    redis?.kill('SIGKILL');
    for (const args of [
      ['ip', 'link', 'del', host],
      ['ip', 'netns', 'del', ns],
    ]) {
      try {
        run(args);
      } catch {
        // Already gone (deleting the namespace deletes the pair too).
      }
    }
  };
  try {
    run(['ip', 'netns', 'add', ns]);
    run(['ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
    run(['ip', 'link', 'set', peer, 'netns', ns]);
    run(['ip', 'addr', 'add', `${hostIp}/30`, 'dev', host]);
    run(['ip', 'link', 'set', host, 'up']);
    inNs(['ip', 'addr', 'add', `${peerIp}/30`, 'dev', peer]);
    inNs(['ip', 'link', 'set', peer, 'up']);
    inNs(['ip', 'link', 'set', 'lo', 'up']);
    // Each end shapes what it sends: tbf on both is the link's rate in both directions.
    const tbf = ['root', 'tbf', 'rate', o.rate, 'burst', '256kb', 'latency', '100ms'];
    run(['tc', 'qdisc', 'add', 'dev', host, ...tbf]);
    inNs(['tc', 'qdisc', 'add', 'dev', peer, ...tbf]);
    redis = spawn(
      'ip',
      [
        ...['netns', 'exec', ns, 'redis-server', '--port', String(port), '--bind', peerIp],
        ...['--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--maxmemory', '4gb'],
      ],
      { stdio: 'ignore' },
    );
    await waitForPing(peerIp, port);
  } catch (err) {
    close();
    throw err;
  }
  return {
    url: `redis://${peerIp}:${port}`,
    describe: `Redis in netns ${ns} behind veth ${host} (tbf ${o.rate} each way)`,
    close,
  };
}

async function waitForPing(ip: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if (
        execFileSync('redis-cli', ['-h', ip, '-p', String(port), 'PING'], { stdio: 'pipe' })
          .toString()
          .trim() === 'PONG'
      )
        return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`redis-server behind the link did not answer at ${ip}:${port}`);
}
