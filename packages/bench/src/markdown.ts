/** Number formats and the table of BENCHMARKS.md (pure). Unmeasured figures print as `n/a`, never as 0. */
export const f0 = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
export const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
export const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
export const ms = (seconds: number | undefined) =>
  seconds !== undefined && Number.isFinite(seconds) ? (seconds * 1000).toFixed(1) : 'n/a';
export const mb = (bytes: number | undefined) => (bytes !== undefined ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : 'n/a');

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}
