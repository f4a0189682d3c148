import type { BenchSizes } from './results';

/** What every section needs: where things are, the bench's Redis, the sizes, and the progress log. */
export interface BenchContext {
  readonly root: string;
  readonly dataDir: string;
  readonly redisUrl: string;
  readonly sizes: BenchSizes;
  /** Children's stderr goes here (the bench's own progress goes to the terminal). */
  readonly logPath: string;
  readonly paths: {
    readonly startCli: string;
    /** `pnpm baseline` (packages/trainer/src/cli/baseline.ts). */
    readonly baselineCli: string;
    readonly singleProcessCli: string;
    /** The scaling section's child: the engine's timing, or one point. */
    readonly scalingPointCli: string;
    readonly torchScript: string;
    /** A python3 with torch (`--python`). */
    readonly python: string;
  };
  log(line: string): void;
}
