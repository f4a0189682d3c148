/** A compose variable reference that could not be resolved (`${VAR:?message}` with VAR unset or empty). */
export class InterpolationError extends Error {
  override readonly name = 'InterpolationError';
}

// $$ | ${NAME} | ${NAME<op><arg>} | $NAME, as in the compose specification's interpolation section.
const REFERENCE =
  /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * Compose's interpolation of one string: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`,
 * `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`, `$VAR` and `$$`. `onReference` sees every variable name referred to.
 */
export function interpolate(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  onReference: (name: string) => void = () => {},
): string {
  return text.replace(REFERENCE, (whole, braced?: string, op?: string, arg = '', bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare) as string;
    onReference(name);
    const value = env[name];
    const set = value !== undefined;
    const nonEmpty = set && value !== '';
    const expandedArg = () => interpolate(arg, env, onReference);
    switch (op) {
      case undefined:
        return value ?? '';
      case ':-':
        return nonEmpty ? (value as string) : expandedArg();
      case '-':
        return set ? (value as string) : expandedArg();
      case ':?':
      case '?':
        if (op === ':?' ? nonEmpty : set) return value as string;
        throw new InterpolationError(`${name}: ${expandedArg() || 'required'}`);
      case ':+':
        return nonEmpty ? expandedArg() : '';
      case '+':
        return set ? expandedArg() : '';
      default:
        throw new InterpolationError(`unsupported operator ${op} in ${whole}`);
    }
  });
}

/** Interpolates every string in a parsed compose document (keys are left alone, as compose does). */
export function interpolateDeep<T>(
  value: T,
  env: Readonly<Record<string, string | undefined>>,
  onReference?: (name: string) => void,
): T {
  if (typeof value === 'string') return interpolate(value, env, onReference) as T;
  if (Array.isArray(value)) return value.map((v) => interpolateDeep(v, env, onReference)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, env, onReference)])) as T;
  }
  return value;
}

/** Every variable name a compose document refers to, defaults' own references included. */
export function referencedVariables(value: unknown): Set<string> {
  const names = new Set<string>();
  const visit = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const m of v.replaceAll('$$', '').matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1] as string);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(value);
  return names;
}
