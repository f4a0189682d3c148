export { coordinatorParts, stepBreakdown } from './breakdown';
export { type AxisScale, type AxisSpec, formatTick, niceStep, resolveAxis } from './chart/axes';
export { Canvas, type Rgb } from './chart/canvas';
export { type ChartSpec, layoutPanel, renderCharts, type Series } from './chart/line-chart';
export { addTotals, histogram, meanOf, type PromSample, parsePromText, sumOf } from './prom-text';
export { efficiency, renderMarkdown, type TargetRow, targets } from './report';
export { contention, renderSingle, singleTargets, torchVersion } from './report-single';
export type * from './results';
export { project, scalingCharts, scalingInputs } from './scaling-inputs';
export {
  peakWorkers,
  powersOfTwo,
  projectScaling,
  type ScalingInputs,
  type ScalingPoint,
  type StepTerm,
  stepTerms,
} from './scaling-model';
export { benchSizes, type SizeOverrides } from './sizes';
export { perRoundRatios, rotation, spread, timedRun, truncated } from './stats';
