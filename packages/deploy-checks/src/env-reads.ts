import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Variables of the platform, not of gradq: reading them is not configuration a deployment has to document. */
export const PLATFORM_VARIABLES: ReadonlySet<string> = new Set(['PATH', 'HOME', 'TMPDIR', 'NODE_OPTIONS', 'NODE_ENV']);

// process.env.NAME, env.NAME, env['NAME'], and OptionSpec literals `env: 'NAME'`.
const READS = [
  /process\.env\.([A-Z][A-Z0-9_]*)/g,
  /\benv\.([A-Z][A-Z0-9_]*)/g,
  /\benv\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g,
  /\benv:\s*['"]([A-Z][A-Z0-9_]*)['"]/g,
];

/** Names of environment variables a piece of source reads, by the patterns gradq's code uses. */
export function envReadsIn(source: string): Set<string> {
  const names = new Set<string>();
  for (const re of READS) for (const m of source.matchAll(re)) names.add(m[1] as string);
  for (const n of PLATFORM_VARIABLES) names.delete(n);
  return names;
}

export interface EnvReadScanOptions {
  /** Directories (relative to root) whose files are scanned, recursively. */
  readonly dirs: readonly string[];
  /** Path fragments to skip, e.g. `/packages/testing/`. */
  readonly skip?: readonly string[];
}

/** Every variable read by non-test .ts/.mjs/.js files under `dirs`, with the files that read it (relative to root). */
export function scanEnvReads(root: string, options: EnvReadScanOptions): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const skip = options.skip ?? [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (name === 'node_modules' || skip.some((s) => `/${relative(root, path)}/`.includes(s))) continue;
      // Not through symbolic links: they lead out of the sources (or nowhere: a dangling one made the scan throw).
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) continue;
      if (stat.isDirectory()) walk(path);
      else if (/\.(ts|mjs|js)$/.test(name) && !name.endsWith('.test.ts')) {
        for (const v of envReadsIn(readFileSync(path, 'utf8'))) {
          found.set(v, [...(found.get(v) ?? []), relative(root, path)]);
        }
      }
    }
  };
  for (const d of options.dirs) walk(join(root, d));
  return found;
}
