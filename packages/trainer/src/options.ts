import { parseArgs } from 'node:util';
import type { z } from 'zod';

/** A command-line flag and its environment variable, both feeding one config key. */
export interface OptionSpec {
  /** Key in the parsed config object. */
  readonly key: string;
  /** `--flag` name without dashes. */
  readonly flag: string;
  /** Environment variable read when the flag is absent. */
  readonly env?: string;
  /** `boolean` flags take no value (`--flag`), or `1`/`true` from the environment. */
  readonly type?: 'string' | 'boolean';
  /** One line for `--help`, ending with the default. */
  readonly doc: string;
}

/** Invalid configuration; the message names the flag and variable at fault. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Where each raw value came from, to name it in errors. */
function describe(spec: OptionSpec): string {
  return spec.env ? `--${spec.flag} (${spec.env})` : `--${spec.flag}`;
}

/**
 * Reads flags, then environment variables, for each spec and validates the result with `schema` (which supplies
 * defaults and coercion). Unknown flags and invalid values throw a ConfigError naming them.
 */
export function readOptions<S extends z.ZodType>(
  specs: readonly OptionSpec[],
  schema: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): z.infer<S> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(specs.map((s) => [s.flag, { type: s.type ?? 'string' }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}. Run with --help for the list of options.`);
  }
  const raw: Record<string, unknown> = {};
  for (const spec of specs) {
    const fromFlag = values[spec.flag];
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromFlag !== undefined) raw[spec.key] = fromFlag;
    else if (fromEnv !== undefined && fromEnv !== '') {
      raw[spec.key] = spec.type === 'boolean' ? ['1', 'true', 'yes'].includes(fromEnv.toLowerCase()) : fromEnv;
    }
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const spec = specs.find((s) => s.key === issue.path[0]);
    const given = spec && raw[spec.key] !== undefined ? `, got '${String(raw[spec.key])}'` : '';
    return `${spec ? describe(spec) : issue.path.join('.') || 'config'}: ${issue.message}${given}`;
  });
  throw new ConfigError(problems.join('\n'));
}

/** `--help` text: one line per option with its variable. */
export function usage(command: string, specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => [`  --${s.flag}${s.type === 'boolean' ? '' : ' <value>'}`, s.env ?? '', s.doc]);
  const w0 = Math.max(...rows.map((r) => (r[0] as string).length));
  const w1 = Math.max(...rows.map((r) => (r[1] as string).length));
  return [
    `Usage: ${command} [options]`,
    '',
    ...rows.map(([a, b, c]) => `${a?.padEnd(w0)}  ${b?.padEnd(w1)}  ${c}`),
  ].join('\n');
}
