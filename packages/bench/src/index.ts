export { coordinatorParts, steadyThroughput, stepBreakdown } from './breakdown';
export { type ChartSpec, renderCharts, type Series } from './chart';
export { CLUSTER_LABELS, clusterFigures, hashesOf, ratesOf, sameParams } from './cluster-figures';
export { blockTiming } from './engine-timing';
export { addTotals, histogram, meanOf, sumOf } from './prom-text';
export { renderMarkdown, type TargetRow, targets } from './report';
export { clusterTargets, renderCluster, renderEncodings } from './report-cluster';
export {
  BOUND_SHARE,
  PROTOCOL_SHARE,
  renderScaling,
  SERIAL_MS,
  scalingCharts,
  scalingTargets,
  whereTimeGoes,
} from './report-scaling';
export { contention, renderSingle, singleTargets, torchVersion } from './report-single';
export type * from './results';
export { CLUSTER_CONFIGS } from './results';
export {
  boundSamplesPerS,
  bytesPerStep,
  medianRaw,
  type PointInput,
  type RunShape,
  runShape,
  saturation,
  scalingPoint,
  withEfficiency,
} from './scaling-math';
export { benchSizes, type SizeOverrides } from './sizes';
export { ceiled, perRoundRatios, rotation, spread, timedRun, truncated } from './stats';
