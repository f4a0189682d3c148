import { PNG } from 'pngjs';

/** Cells per row of the preview grid. */
const COLUMNS = 8;
const SIDE = 28;
const SCALE = 2;
const GAP = 2;

/**
 * A PNG of test digits over their reconstructions: rows of {@link COLUMNS} originals, each followed by a row of
 * the model's outputs for them (clipped to [0, 1]), pixels doubled so that a 16-digit preview is readable.
 * `digits` holds `count` MNIST images as bytes; `reconstructions` the model's outputs for them.
 */
export function renderPreview(digits: Uint8Array, reconstructions: Float32Array, count: number): Uint8Array {
  const pixels = SIDE * SIDE;
  if (count < 1 || digits.length < count * pixels || reconstructions.length < count * pixels) {
    throw new RangeError(`preview: need ${count} digits and reconstructions of ${pixels} pixels`);
  }
  const columns = Math.min(COLUMNS, count);
  const groups = Math.ceil(count / COLUMNS);
  const cell = SIDE * SCALE + GAP;
  const png = new PNG({ width: columns * cell + GAP, height: 2 * groups * cell + GAP });
  png.data.fill(0);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  // Mid-grey gutters so that black backgrounds of neighbouring digits stay apart.
  for (let i = 0; i < png.data.length; i += 4) png.data.fill(64, i, i + 3);
  const paint = (cellX: number, cellY: number, value: (p: number) => number) => {
    for (let y = 0; y < SIDE * SCALE; y++) {
      for (let x = 0; x < SIDE * SCALE; x++) {
        const v = value(Math.floor(y / SCALE) * SIDE + Math.floor(x / SCALE));
        const o = ((cellY * cell + GAP + y) * png.width + cellX * cell + GAP + x) * 4;
        png.data[o] = v;
        png.data[o + 1] = v;
        png.data[o + 2] = v;
      }
    }
  };
  for (let d = 0; d < count; d++) {
    const col = d % COLUMNS;
    const group = Math.floor(d / COLUMNS);
    paint(col, 2 * group, (p) => digits[d * pixels + p] as number);
    paint(col, 2 * group + 1, (p) => {
      const r = reconstructions[d * pixels + p] as number;
      return Math.round(255 * Math.min(1, Math.max(0, Number.isFinite(r) ? r : 0)));
    });
  }
  return new Uint8Array(PNG.sync.write(png));
}
