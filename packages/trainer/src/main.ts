import { relaxHeapGrowth } from './heap';
import { ConfigError } from './options';

/**
 * Runs a command's main function: Ctrl-C (SIGINT) or SIGTERM aborts the signal once (a second one exits at once);
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
  main(controller.signal).then(
    () => process.exit(0),
    (err: unknown) => {
      if (controller.signal.aborted && err === controller.signal.reason) {
        process.stderr.write('gradq: stopped\n');
        process.exit(130);
      }
      const e = err as Error;
      // Any package's configuration error (CheckpointConfigError, BackendConfigError...) is a usage error: exit 2.
      const isConfig = e instanceof ConfigError || (typeof e?.name === 'string' && e.name.endsWith('ConfigError'));
      process.stderr.write(
        `gradq: ${isConfig ? 'invalid configuration:\n  ' : ''}${isConfig ? e.message.replace(/\n/g, '\n  ') : (e?.message ?? String(err))}\n`,
      );
      if (!isConfig && process.env.GRADQ_DEBUG) process.stderr.write(`${e?.stack}\n`);
      process.exit(isConfig ? 2 : 1);
    },
  );
}
