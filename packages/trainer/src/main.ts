import { relaxHeapGrowth } from './heap';
import { ConfigError } from './options';
import { redactUrl } from './redact';

/**
 * Runs a command's main function: Ctrl-C (SIGINT) or SIGTERM aborts the signal once (a second one exits at once),
 * as does a `{ gradq: 'stop' }` IPC message or the IPC parent going away (quietly: the parent says why);
 * a ConfigError exits 2 with its message, any other error exits 1 with `gradq: <message>`.
 */
export function runMain(main: (signal: AbortSignal) => Promise<void>): void {
  relaxHeapGrowth();
  const controller = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\ngradq: ${sig} received, stopping (again to force)\n`);
    controller.abort(new Error(`stopped by ${sig}`));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Started by another gradq process over IPC (pnpm start's workers, in process groups of their own so that a
  // terminal's Ctrl-C reaches pnpm start alone): it stops us with a message, and we stop if it goes away.
  if (process.channel) {
    process.on('message', (message) => {
      if ((message as { gradq?: string })?.gradq === 'stop') controller.abort(new Error('stopped by its parent'));
    });
    process.on('disconnect', () => controller.abort(new Error('its parent went away')));
  }
  // An error thrown from an event (a library's 'error' nobody listened to, Redis refusing the credentials) ends the
  // command like main's own: its message alone, redacted. Node's default dump prints the error's properties, and
  // ioredis's carry the command that failed, an AUTH's password included.
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  main(controller.signal).then(
    () => process.exit(0),
    (err: unknown) => {
      if (controller.signal.aborted && err === controller.signal.reason) {
        process.stderr.write('gradq: stopped\n');
        process.exit(130);
      }
      // One task later: a final error thrown from an event in the same moment (Redis refusing the credentials fails
      // the commands main awaited, then throws its RedisAuthConfigError from setImmediate) names the cause; main's
      // rejection is only its echo.
      setImmediate(() => fail(err));
    },
  );
}

/** Prints `gradq: <message>` (URL passwords redacted) and exits: 2 for any package's ConfigError, else 1. */
function fail(err: unknown): never {
  const e = err as Error;
  // Any package's configuration error (CheckpointConfigError, BackendConfigError...) is a usage error: exit 2.
  const isConfig = e instanceof ConfigError || (typeof e?.name === 'string' && e.name.endsWith('ConfigError'));
  const message = redactUrl(String(e?.message ?? err));
  process.stderr.write(
    `gradq: ${isConfig ? `invalid configuration:\n  ${message.replace(/\n/g, '\n  ')}` : message}\n`,
  );
  if (!isConfig && process.env.GRADQ_DEBUG) process.stderr.write(`${redactUrl(String(e?.stack))}\n`);
  process.exit(isConfig ? 2 : 1);
}
