/** One variable documented in an env file such as `.env.example`. */
export interface EnvEntry {
  readonly name: string;
  readonly value: string;
  /** Written as a comment (`# NAME=value`): documented, but not set by the file. */
  readonly commented: boolean;
  /** The comment lines directly above it, without `#`. */
  readonly doc: readonly string[];
  /** 1-based. */
  readonly line: number;
}

const ENTRY = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/;

/**
 * Parses a dotenv file the way docs read it: `NAME=value` entries, `# NAME=value` documented-but-unset entries, and
 * for each the comment block directly above. Values are taken literally (no quotes or expansion: .env.example uses
 * none, and compose would read them literally too).
 */
export function parseEnvFile(text: string): EnvEntry[] {
  const entries: EnvEntry[] = [];
  let doc: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    const m = ENTRY.exec(line);
    if (m) {
      const [, hash, name = '', value = ''] = m;
      entries.push({ name, value, commented: hash !== undefined, doc, line: i + 1 });
      doc = [];
    } else if (line.startsWith('#')) {
      doc.push(line.replace(/^#\s?/, ''));
    } else {
      doc = [];
    }
  });
  return entries;
}

/** The values an env file sets (commented entries excluded), as compose would load them from `.env`. */
export function envFileValues(entries: readonly EnvEntry[]): Record<string, string> {
  return Object.fromEntries(entries.filter((e) => !e.commented).map((e) => [e.name, e.value]));
}
