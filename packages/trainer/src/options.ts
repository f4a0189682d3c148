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
    ({ values } = parseFlags(specs, argv));
  } catch (err) {
    const unknown = /Unknown option '--([^']+)'/.exec((err as Error).message)?.[1];
    const near =
      unknown === undefined
        ? undefined
        : closest(
            unknown,
            specs.map((s) => s.flag),
          );
    const hint = near ? ` Did you mean --${near}?` : '';
    throw new ConfigError(`${(err as Error).message}.${hint} Run with --help for the list of options.`);
  }
  const raw: Record<string, unknown> = {};
  const envProblems: string[] = [];
  for (const spec of specs) {
    const fromFlag = values[spec.flag];
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromFlag !== undefined) raw[spec.key] = fromFlag;
    else if (fromEnv !== undefined && fromEnv !== '') {
      const yesNo = parseBooleanWord(fromEnv);
      if (spec.type !== 'boolean') raw[spec.key] = fromEnv;
      else if (yesNo !== undefined) raw[spec.key] = yesNo;
      // Anything but a yes or a no is a mistake to report, not a silent "off".
      else envProblems.push(`${describe(spec)}: must be one of ${[...BOOLEAN_WORDS].join(', ')}, got '${fromEnv}'`);
    }
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success && envProblems.length === 0) return parsed.data;
  if (parsed.success) throw new ConfigError(envProblems.join('\n'));
  const problems = parsed.error.issues.map((issue) => {
    const spec = specs.find((s) => s.key === issue.path[0]);
    const given = spec && raw[spec.key] !== undefined ? `, got '${redactUserinfo(String(raw[spec.key]))}'` : '';
    return `${spec ? describe(spec) : issue.path.join('.') || 'config'}: ${issue.message}${given}`;
  });
  throw new ConfigError([...envProblems, ...problems].join('\n'));
}

/**
 * The option keys a user gave, by flag or by a non-empty variable: what a default stands for cannot be told from
 * the parsed values (a resumed run keeps its checkpoint's settings unless the user asked for others).
 */
export function givenOptions(
  specs: readonly OptionSpec[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Set<string> {
  // Called once readOptions has accepted the same arguments, so this parse cannot fail.
  const { values } = parseFlags(specs, argv);
  const given = new Set<string>();
  for (const spec of specs) {
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (values[spec.flag] !== undefined || (fromEnv !== undefined && fromEnv !== '')) given.add(spec.key);
  }
  return given;
}

function parseFlags(specs: readonly OptionSpec[], argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: Object.fromEntries(specs.map((s) => [s.flag, { type: s.type ?? 'string' }])),
    strict: true,
    allowPositionals: false,
  });
}

/** The flag nearest `typed` by edit distance, if within 2 edits (a typo, not another option). */
function closest(typed: string, flags: readonly string[]): string | undefined {
  let best: { flag: string; d: number } | undefined;
  for (const flag of flags) {
    const d = editDistance(typed, flag);
    if (d <= 2 && (!best || d < best.d)) best = { flag, d };
  }
  return best?.flag;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + cost);
    }
    row = next;
  }
  return row[b.length] as number;
}

const TRUE_WORDS = ['1', 'true', 'yes'];
const BOOLEAN_WORDS = new Set([...TRUE_WORDS, '0', 'false', 'no']);

/**
 * A yes/no environment variable: 1/true/yes or 0/false/no, in any case; undefined for anything else. gradq's one
 * reading of such a value (option flags here, the checkpoint variables in @gradq/checkpoint).
 */
export function parseBooleanWord(value: string): boolean | undefined {
  const word = value.toLowerCase();
  return BOOLEAN_WORDS.has(word) ? TRUE_WORDS.includes(word) : undefined;
}

/** Echoed values may be URLs with credentials (REDIS_URL): the password never reaches the terminal or a log. */
function redactUserinfo(value: string): string {
  return value.replace(/\/\/([^:@/]*):([^@/]*)@/g, (_m, user) => `//${user}:***@`);
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
