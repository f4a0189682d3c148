/**
 * The step a run's `step` key names: `<v>` while step v is collected, `<v>/closed` once it has been applied (see
 * packages/protocol/src/keys.ts). -1 when the key is absent (no step opened yet, or Redis lost the run).
 */
export function stepOf(raw: string | null | undefined): number {
  if (raw === null || raw === undefined) return -1;
  const step = Number.parseInt(raw, 10);
  if (!Number.isInteger(step) || !/^\d+(\/closed)?$/.test(raw)) throw new Error(`not a step key value: '${raw}'`);
  return step;
}
