import type { StepPart } from '@gradq/telemetry';

/** Points the step curves keep at most; past it they thin to every other point (a 10-epoch run: ~4 steps each). */
export const HISTORY_POINTS = 1024;
/** Steps the "where a step's time goes" figure averages over. */
export const RECENT_STEPS = 64;

const PARTS: readonly StepPart[] = ['wait_gradients', 'reduce', 'optimizer', 'publish'];
const PART_INDEX: Readonly<Record<StepPart, number>> = { wait_gradients: 0, reduce: 1, optimizer: 2, publish: 3 };

/** One applied step, as the live page records it. */
export interface LiveStep {
  /** The step counter after it (parameter version). */
  step: number;
  loss: number;
  samples: number;
  seconds: number;
}

/** What /api/run serves: the run's curves so far and where it stands. */
export interface RunSnapshot {
  run: string;
  state: 'starting' | 'training' | 'finished';
  epoch: number;
  epochs: number;
  step: number;
  stepsTotal: number;
  /** Over the last {@link RECENT_STEPS} steps. */
  samplesPerSecond: number | null;
  workersAlive: number;
  /** Curve points: each the mean over the steps since the point before (loss sample-weighted). */
  steps: { step: number[]; loss: number[]; samplesPerSecond: number[] };
  testMse: { step: number[]; value: number[] };
  /** Mean milliseconds per step of each part, over the last {@link RECENT_STEPS} steps. */
  parts: Record<StepPart, number> | null;
  preview: { step: number } | null;
}

/**
 * The live page's memory of a run. The step loop calls {@link RunHistory.step} once per step: a few numbers added
 * to running sums and, at most once per step, one point appended to fixed arrays (no allocation; when they fill,
 * every other point goes and points come half as often). The JSON is built only when the page asks.
 */
export class RunHistory {
  private readonly x = new Float64Array(HISTORY_POINTS);
  private readonly loss = new Float64Array(HISTORY_POINTS);
  private readonly rate = new Float64Array(HISTORY_POINTS);
  private points = 0;
  /** A point every `stride` steps. */
  private stride = 1;
  // Sums over the steps since the last point.
  private pendingSteps = 0;
  private pendingLoss = 0;
  private pendingSamples = 0;
  private pendingSeconds = 0;
  /** The last RECENT_STEPS steps' parts (seconds), samples and seconds, as rings. */
  private readonly recentParts = PARTS.map(() => new Float64Array(RECENT_STEPS));
  private readonly recentSamples = new Float64Array(RECENT_STEPS);
  private readonly recentSeconds = new Float64Array(RECENT_STEPS);
  private recentCount = 0;
  /** Parts reported for the step in progress (the source reports them before the step is applied). */
  private readonly partsNow = new Float64Array(PARTS.length);
  private readonly mseStep: number[] = [];
  private readonly mseValue: number[] = [];
  private lastStep = 0;
  private epoch = 0;
  private state: RunSnapshot['state'] = 'starting';
  private previewPng: { step: number; png: Uint8Array } | undefined;

  private plan = { epochs: 0, stepsTotal: 0 };

  constructor(
    readonly run: string,
    /** Workers alive now (the coordinator's gradq_workers_seen). */
    private readonly workersAlive: () => number = () => 0,
  ) {}

  /** The run's length, once its data is loaded; `step`/`epoch` (1-based) where a resumed run starts. */
  begin(plan: { epochs: number; stepsTotal: number; step: number; epoch: number }): void {
    this.plan = { epochs: plan.epochs, stepsTotal: plan.stepsTotal };
    this.lastStep = plan.step;
    this.epoch = plan.epoch;
  }

  /** Time spent in a part of the step in progress (several reports of one part add up). */
  part(part: StepPart, seconds: number): void {
    const i = PART_INDEX[part];
    this.partsNow[i] = (this.partsNow[i] as number) + seconds;
  }

  /** An applied step (`epoch` 1-based). */
  step(s: LiveStep, epoch: number): void {
    this.state = 'training';
    this.lastStep = s.step;
    this.epoch = epoch;
    const slot = this.recentCount++ % RECENT_STEPS;
    for (let i = 0; i < PARTS.length; i++) {
      (this.recentParts[i] as Float64Array)[slot] = this.partsNow[i] ?? 0;
      this.partsNow[i] = 0;
    }
    this.recentSamples[slot] = s.samples;
    this.recentSeconds[slot] = s.seconds;
    this.pendingSteps++;
    this.pendingLoss += s.loss * s.samples;
    this.pendingSamples += s.samples;
    this.pendingSeconds += s.seconds;
    if (this.pendingSteps < this.stride) return;
    if (this.points === HISTORY_POINTS) {
      // Full: merge pairs, and this point waits until it spans the new stride too, so that every point spans the
      // same number of steps and a merged pair's plain mean is the mean over its steps.
      this.thin();
      if (this.pendingSteps < this.stride) return;
    }
    const at = this.points++;
    this.x[at] = s.step;
    this.loss[at] = this.pendingSamples > 0 ? this.pendingLoss / this.pendingSamples : s.loss;
    this.rate[at] = this.pendingSeconds > 0 ? this.pendingSamples / this.pendingSeconds : 0;
    this.pendingSteps = 0;
    this.pendingLoss = 0;
    this.pendingSamples = 0;
    this.pendingSeconds = 0;
  }

  /** Test MSE after `step` steps (0: the initial network). */
  testMse(step: number, value: number): void {
    this.mseStep.push(step);
    this.mseValue.push(value);
  }

  preview(step: number, png: Uint8Array): void {
    this.previewPng = { step, png };
  }

  get previewImage(): Uint8Array | undefined {
    return this.previewPng?.png;
  }

  finish(): void {
    this.state = 'finished';
  }

  /** Keeps every other point (merging each pair, so no step drops out of the means) and halves the rate. */
  private thin(): void {
    const half = HISTORY_POINTS / 2;
    for (let i = 0; i < half; i++) {
      const a = 2 * i;
      const b = a + 1;
      this.x[i] = this.x[b] as number;
      // Both halves covered `stride` steps: their plain mean is the mean over the pair.
      this.loss[i] = ((this.loss[a] as number) + (this.loss[b] as number)) / 2;
      const ra = this.rate[a] as number;
      const rb = this.rate[b] as number;
      // Samples/s of the pair: equal samples per step, so the harmonic mean of the two rates.
      this.rate[i] = ra > 0 && rb > 0 ? (2 * ra * rb) / (ra + rb) : Math.max(ra, rb);
    }
    this.points = half;
    this.stride *= 2;
  }

  snapshot(): RunSnapshot {
    const n = Math.min(this.recentCount, RECENT_STEPS);
    let samples = 0;
    let seconds = 0;
    for (let i = 0; i < n; i++) {
      samples += this.recentSamples[i] as number;
      seconds += this.recentSeconds[i] as number;
    }
    const mean = (ring: Float64Array) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += ring[i] as number;
      return (sum / n) * 1000;
    };
    const finite = (v: number) => (Number.isFinite(v) ? v : null);
    return {
      run: this.run,
      state: this.state,
      epoch: this.epoch,
      epochs: this.plan.epochs,
      step: this.lastStep,
      stepsTotal: this.plan.stepsTotal,
      samplesPerSecond: seconds > 0 ? samples / seconds : null,
      workersAlive: this.workersAlive(),
      steps: {
        step: Array.from(this.x.subarray(0, this.points)),
        loss: Array.from(this.loss.subarray(0, this.points), (v) => finite(v) as number),
        samplesPerSecond: Array.from(this.rate.subarray(0, this.points)),
      },
      testMse: { step: [...this.mseStep], value: this.mseValue.map((v) => finite(v) as number) },
      parts:
        n > 0
          ? (Object.fromEntries(PARTS.map((part, i) => [part, mean(this.recentParts[i] as Float64Array)])) as Record<
              StepPart,
              number
            >)
          : null,
      preview: this.previewPng ? { step: this.previewPng.step } : null,
    };
  }
}
