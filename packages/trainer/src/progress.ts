import type { EpochReport, StepReport } from './loop';

export interface ProgressOptions {
  readonly epochs: number;
  /** Redraw one line in place (a terminal) or print plain lines (logs, CI). Default: whether stderr is a TTY. */
  readonly tty?: boolean;
  readonly write?: (text: string) => void;
  /** Extra fields for the live line, e.g. workers seen. */
  readonly extra?: () => string;
}

/**
 * Training progress on stderr: on a terminal a live bar redrawn at most 10 times a second; otherwise a plain
 * line ten times per epoch. Epoch results are always a line of their own.
 */
export class Progress {
  private readonly tty: boolean;
  private readonly write: (text: string) => void;
  private lastDraw = 0;
  private windowSamples = 0;
  private windowStart = performance.now();
  private rate = 0;
  private drawn = false;

  constructor(private readonly options: ProgressOptions) {
    this.tty = options.tty ?? process.stderr.isTTY === true;
    this.write = options.write ?? ((t) => process.stderr.write(t));
  }

  step(r: StepReport): void {
    this.windowSamples += r.samples;
    const now = performance.now();
    if (now - this.windowStart >= 1000) {
      this.rate = (this.windowSamples * 1000) / (now - this.windowStart);
      this.windowSamples = 0;
      this.windowStart = now;
    }
    if (this.rate === 0 && now > this.windowStart) this.rate = (this.windowSamples * 1000) / (now - this.windowStart);
    const done = r.stepInEpoch + 1;
    const line = this.line(r, done);
    if (this.tty) {
      if (now - this.lastDraw < 100 && done !== r.stepsPerEpoch) return;
      this.lastDraw = now;
      this.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else if (done % Math.max(1, Math.floor(r.stepsPerEpoch / 10)) === 0 || done === r.stepsPerEpoch) {
      this.write(`${line}\n`);
    }
  }

  epoch(r: EpochReport, previousMse: number | undefined): void {
    this.clear();
    const change = previousMse === undefined ? '' : ` (was ${previousMse.toFixed(5)})`;
    this.write(
      `epoch ${r.epoch}/${this.options.epochs}  test MSE ${r.testMse.toFixed(5)}${change}  ${Math.round(r.samplesPerSecond)} samples/s\n`,
    );
  }

  /** Prints a line without tearing the live bar. */
  log(line: string): void {
    this.clear();
    this.write(`${line}\n`);
  }

  clear(): void {
    if (this.tty && this.drawn) this.write('\r\x1b[2K');
    this.drawn = false;
  }

  private line(r: StepReport, done: number): string {
    const width = 20;
    const filled = Math.round((done / r.stepsPerEpoch) * width);
    const bar = this.tty ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    const extra = this.options.extra?.() ?? '';
    return `epoch ${r.epoch + 1}/${this.options.epochs} ${bar}step ${done}/${r.stepsPerEpoch}  loss ${r.loss.toFixed(5)}  ${Math.round(this.rate)} samples/s${extra ? `  ${extra}` : ''}`;
  }
}
