import { gunzipSync } from 'node:zlib';

export const IMAGES_MAGIC = 0x00000803;
export const LABELS_MAGIC = 0x00000801;

/** A file that is not the MNIST IDX file it should be; the message names the file and what is wrong. */
export class IdxFormatError extends Error {
  override readonly name = 'IdxFormatError';
}

export interface IdxImages {
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
  /** count x rows x cols bytes, row-major. */
  readonly pixels: Uint8Array;
}

export interface IdxLabels {
  readonly count: number;
  readonly labels: Uint8Array;
}

/** Decompresses when the bytes start with the gzip signature; raw IDX passes through. */
export function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw new IdxFormatError(`${file}: not a valid gzip file (${(err as Error).message})`);
  }
}

function header(bytes: Uint8Array, file: string, words: number): DataView {
  if (bytes.byteLength < words * 4) {
    throw new IdxFormatError(
      `${file}: truncated: ${bytes.byteLength} bytes is shorter than the ${words * 4}-byte IDX header`,
    );
  }
  return new DataView(bytes.buffer, bytes.byteOffset, words * 4);
}

function checkMagic(view: DataView, expected: number, file: string, kind: string): void {
  const magic = view.getUint32(0);
  if (magic !== expected) {
    throw new IdxFormatError(`${file}: wrong magic number 0x${hex(magic)}, expected 0x${hex(expected)} (IDX ${kind})`);
  }
}

function checkLength(bytes: Uint8Array, headerBytes: number, expectedBody: number, file: string, what: string): void {
  const expected = headerBytes + expectedBody;
  if (bytes.byteLength !== expected) {
    const problem = bytes.byteLength < expected ? 'truncated' : 'has trailing bytes';
    throw new IdxFormatError(
      `${file}: ${problem}: the header says ${what} (${expected} bytes) but the file has ${bytes.byteLength} bytes`,
    );
  }
}

/** Parses an IDX3 image file (gzipped or raw) and checks magic, dimensions and length. */
export function parseImages(
  data: Uint8Array,
  file: string,
  expect: { rows: number; cols: number } = { rows: 28, cols: 28 },
): IdxImages {
  const bytes = maybeGunzip(data, file);
  const view = header(bytes, file, 4);
  checkMagic(view, IMAGES_MAGIC, file, 'images');
  const count = view.getUint32(4);
  const rows = view.getUint32(8);
  const cols = view.getUint32(12);
  if (rows !== expect.rows || cols !== expect.cols) {
    throw new IdxFormatError(
      `${file}: wrong dimensions: images are ${rows}x${cols}, expected ${expect.rows}x${expect.cols}`,
    );
  }
  checkLength(bytes, 16, count * rows * cols, file, `${count} images of ${rows}x${cols}`);
  return { count, rows, cols, pixels: bytes.subarray(16) };
}

/** Parses an IDX1 label file (gzipped or raw) and checks magic, length and that every label is a digit. */
export function parseLabels(data: Uint8Array, file: string): IdxLabels {
  const bytes = maybeGunzip(data, file);
  const view = header(bytes, file, 2);
  checkMagic(view, LABELS_MAGIC, file, 'labels');
  const count = view.getUint32(4);
  checkLength(bytes, 8, count, file, `${count} labels`);
  const labels = bytes.subarray(8);
  const bad = labels.findIndex((l) => l > 9);
  if (bad >= 0) throw new IdxFormatError(`${file}: label ${bad} is ${labels[bad]}, not a digit 0-9`);
  return { count, labels };
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
