import { PNG } from 'pngjs';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, glyph, textWidth } from './font';

export type Rgb = readonly [number, number, number];

/** An RGBA raster with the few primitives a line chart needs; encodes to PNG with pngjs. */
export class Canvas {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.data = new Uint8Array(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  pixel(x: number, y: number, c: Rgb): void {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= this.width || yi >= this.height) return;
    const o = (yi * this.width + xi) * 4;
    this.data[o] = c[0];
    this.data[o + 1] = c[1];
    this.data[o + 2] = c[2];
    this.data[o + 3] = 255;
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = Math.round(y); j < Math.round(y + h); j++)
      for (let i = Math.round(x); i < Math.round(x + w); i++) this.pixel(i, j, c);
  }

  /**
   * A line of `thickness` pixels; `dash` = [on, off] lengths in pixels. Stepped along its longer axis with a square
   * brush: good enough for chart strokes without anti-aliasing.
   */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1, dash?: readonly [number, number]): void {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    const length = Math.hypot(x1 - x0, y1 - y0);
    const half = (thickness - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      if (dash) {
        const along = t * length;
        if (along % (dash[0] + dash[1]) >= dash[0]) continue;
      }
      const x = x0 + (x1 - x0) * t;
      const y = y0 + (y1 - y0) * t;
      for (let dy = -half; dy <= half; dy++) for (let dx = -half; dx <= half; dx++) this.pixel(x + dx, y + dy, c);
    }
  }

  /** Text in the bitmap font, `scale` pixels per font pixel; (x, y) is the anchor point. */
  text(
    x: number,
    y: number,
    s: string,
    c: Rgb,
    scale = 2,
    align: 'left' | 'center' | 'right' = 'left',
    valign: 'top' | 'middle' | 'bottom' = 'top',
  ): void {
    const w = textWidth(s) * scale;
    const h = GLYPH_HEIGHT * scale;
    const left = Math.round(align === 'left' ? x : align === 'center' ? x - w / 2 : x - w);
    const top = Math.round(valign === 'top' ? y : valign === 'middle' ? y - h / 2 : y - h);
    [...s].forEach((ch, i) => {
      glyph(ch).forEach((row, r) => {
        row.forEach((ink, col) => {
          if (ink) this.fillRect(left + (i * GLYPH_ADVANCE + col) * scale, top + r * scale, scale, scale, c);
        });
      });
    });
  }

  /** Text rotated 90 degrees counter-clockwise (reads bottom to top), centred on (x, y): y-axis titles. */
  textVertical(x: number, y: number, s: string, c: Rgb, scale = 2): void {
    const w = textWidth(s) * scale;
    const h = GLYPH_HEIGHT * scale;
    const left = Math.round(x - h / 2);
    const bottom = Math.round(y + w / 2);
    [...s].forEach((ch, i) => {
      glyph(ch).forEach((row, r) => {
        row.forEach((ink, col) => {
          if (ink) this.fillRect(left + r * scale, bottom - (i * GLYPH_ADVANCE + col + 1) * scale, scale, scale, c);
        });
      });
    });
  }

  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    png.data = Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    return PNG.sync.write(png);
  }
}
