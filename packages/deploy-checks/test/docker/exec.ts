import { spawn } from 'node:child_process';

export interface ExecOptions {
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs a command to completion and resolves with its stdout; rejects with the command and its output's tail. */
export type Exec = (cmd: string, args: readonly string[], options?: ExecOptions) => Promise<string>;

/** An {@link Exec} with `env` for every command; `log` sees each command line as it starts. */
export function execWith(env: NodeJS.ProcessEnv, log: (line: string) => void = () => {}): Exec {
  return (cmd, args, options = {}) =>
    new Promise((resolve, reject) => {
      const line = [cmd, ...args].join(' ');
      log(`$ ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`);
      const child = spawn(cmd, args, {
        env,
        cwd: options.cwd,
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
      });
      child.stderr?.on('data', (c: Buffer) => {
        err = (err + c.toString()).slice(-20_000);
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10 * 60_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`${line}: ${e.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else
          reject(
            new Error(
              `${line}: ${signal ? `killed by ${signal}` : `exit ${code}`}\n${(out.slice(-3000) + err).slice(-6000)}`,
            ),
          );
      });
      // A command that exits without reading its input must not fail the test with EPIPE: its exit code says more.
      child.stdin?.on('error', () => {});
      child.stdin?.end(options.input);
    });
}
