import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type EnvEntry, parseEnvFile } from '../../src/index';

export const REPO_ROOT = new URL('../../../../', import.meta.url).pathname;

export const repoPath = (...parts: string[]) => join(REPO_ROOT, ...parts);
export const readRepoFile = (...parts: string[]) => readFileSync(repoPath(...parts), 'utf8');
export const repoFileExists = (...parts: string[]) => existsSync(repoPath(...parts));

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; target?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  ports?: (string | number | Record<string, unknown>)[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  container_name?: string;
  profiles?: string[];
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  deploy?: { resources?: { reservations?: { devices?: { driver?: string; capabilities?: string[] }[] } } };
  [key: string]: unknown;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

/** docker-compose.yml as compose sees it before interpolation: YAML 1.1 merge keys (`<<: *anchor`) applied. */
export function readCompose(): ComposeFile {
  return parseYaml(readRepoFile('docker-compose.yml'), { merge: true }) as ComposeFile;
}

export function readEnvExample(): EnvEntry[] {
  return parseEnvFile(readRepoFile('.env.example'));
}

/** A service's environment as a map (compose allows a list of NAME=value too). */
export function environmentOf(service: ComposeService | undefined): Record<string, string> {
  const env = service?.environment;
  if (!env) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((kv) => [kv.split('=')[0] as string, kv.slice(kv.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

export function service(compose: ComposeFile, name: string): ComposeService {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
}

/** The root package.json's pinned pnpm version (`packageManager: pnpm@x.y.z`). */
export function pinnedPnpmVersion(): string {
  const pkg = JSON.parse(readRepoFile('package.json')) as { packageManager?: string };
  const m = /^pnpm@(\d+\.\d+\.\d+)/.exec(pkg.packageManager ?? '');
  if (!m) throw new Error(`package.json packageManager is not pnpm@x.y.z: ${pkg.packageManager}`);
  return m[1] as string;
}

/** The workspace catalog's version of a dependency. */
export function catalogVersion(name: string): string | undefined {
  const ws = parseYaml(readRepoFile('pnpm-workspace.yaml')) as { catalog?: Record<string, string> };
  return ws.catalog?.[name];
}

/**
 * The Dockerfile's stages by name, each with its text up to the next FROM. A regex, not a parser: the compose checks
 * need only target names and whether a stage declares a HEALTHCHECK; the images themselves are built and run by
 * `pnpm test:docker`.
 */
export function dockerfileStages(text: string): Map<string, string> {
  const stages = new Map<string, string>();
  const froms = [...text.matchAll(/^FROM\s+\S+(?:\s+AS\s+(\S+))?\s*$/gim)];
  froms.forEach((m, i) => {
    if (m[1]) stages.set(m[1], text.slice(m.index, froms[i + 1]?.index ?? text.length));
  });
  return stages;
}
