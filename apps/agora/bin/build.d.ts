/** Types of build.js (plain JavaScript, like launch.js). */
import type { BuildState } from './launch.js';

export declare const BUILD_LOCK_WAIT_MS: number;

export interface BuildResult {
  /** tsc -b ran (the build was stale, or force). */
  built: boolean;
  /** tsc's exit status (0 when it did not run). */
  code: number;
  /** The build's state afterwards. */
  state: BuildState;
  /** tsc's output when quiet (else it went to the terminal). */
  output: string;
}

export declare function ensureBuild(options?: { force?: boolean; quiet?: boolean; log?: (line: string) => void }): Promise<BuildResult>;

/** Copies every compiled workspace's assets (sourceAssets) from src/ to dist/src/; returns how many. */
export declare function copyAssets(): number;
