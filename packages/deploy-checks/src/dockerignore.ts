interface Rule {
  readonly exclude: boolean;
  readonly pattern: RegExp;
}

function toRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more directories; a trailing `**` matches everything below.
      if (pattern[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A pattern that names a directory excludes everything inside it.
  return new RegExp(`^${re}(?:/.*)?$`);
}

/**
 * A `.dockerignore` matcher: patterns are relative to the context root (a leading `/` is dropped), `*` and `?` stay
 * within one path segment, `**` spans any number, `!` re-includes, and the last matching line wins — Docker's rules.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules: Rule[] = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const exclude = !l.startsWith('!');
      const body = (exclude ? l : l.slice(1)).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      return { exclude, pattern: toRegExp(body) };
    });
  return (path: string) => {
    let excluded = false;
    for (const rule of rules) if (rule.pattern.test(path)) excluded = rule.exclude;
    return excluded;
  };
}
