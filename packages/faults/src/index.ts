export { reliabilityDoc, resultTable, type SuiteReport, terminalTable } from './report';
export { Rig, type Summary, totalSteps, type Workload, workloadArgs } from './rig';
export {
  compareWithReference,
  type Intensity,
  runScenario,
  SCENARIOS,
  type Scenario,
  type ScenarioResult,
} from './scenarios';
export { runSuite, type SuiteOptions, selectScenarios, WORKLOADS } from './suite';
