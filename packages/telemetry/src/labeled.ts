// prom-client types label values as any string, so `inc({ kind: 'parms' })` compiles and silently creates a new
// series. These narrow views of prom-client's own metric objects only accept the fixed label values from
// labels.ts; the objects themselves are plain prom-client metrics (structurally assignable to these).

/** A counter with a fixed label set `L`. */
export interface LabeledCounter<L extends Record<string, string>> {
  /** Adds `value` (default 1; must be >= 0) to the series for `labels`. */
  inc(labels: L, value?: number): void;
}

/** A gauge with a fixed label set `L`. */
export interface LabeledGauge<L extends Record<string, string>> {
  /** Sets the series for `labels` to `value`. */
  set(labels: L, value: number): void;
}

/** A histogram with a fixed label set `L`; values are seconds. */
export interface LabeledHistogram<L extends Record<string, string>> {
  /** Records one observation of `seconds` in the series for `labels`. */
  observe(labels: L, seconds: number): void;
  /** Starts a timer; calling the returned function observes the elapsed seconds and returns them. */
  startTimer(labels: L): () => number;
}
