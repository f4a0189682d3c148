import { assertStep } from './keys';

/** The body of `runs/<run-id>/latest`: `{"step": 1200}`. */
export function encodeLatest(step: number): Uint8Array {
  assertStep(step);
  return new TextEncoder().encode(`${JSON.stringify({ step })}\n`);
}

/** The step a `latest` object names; throws a plain Error describing what is wrong with it. */
export function parseLatest(bytes: Uint8Array): number {
  const text = new TextDecoder().decode(bytes).trim();
  let step: unknown;
  try {
    step = (JSON.parse(text) as { step?: unknown }).step;
  } catch {
    throw new Error(`latest is not JSON: '${text.slice(0, 40)}'`);
  }
  if (typeof step !== 'number') throw new Error(`latest names no step: '${text.slice(0, 40)}'`);
  assertStep(step);
  return step;
}
