/** Types of launch.js (plain JavaScript: it decides whether compiled code may run). */

export declare const ROOT: string;
export declare const SOURCE_CONDITION: '@agora/source';
export declare const FROM_SOURCE_ENV: 'AGORA_FROM_SOURCE';
export declare const COMPILED_MAIN: string;
export declare const SOURCE_MAIN: string;
export declare const SOURCE_NODE_ARGS: readonly string[];

export interface BuildState {
  /** Every compiled workspace is built and newer than its sources. */
  fresh: boolean;
  /** Why not, one line per stale workspace. */
  stale: string[];
}

export interface AgoraLauncher {
  /** The node binary (this process's). */
  node: string;
  /** node's arguments before the entry: none when compiled, tsx and the source condition otherwise. */
  nodeArgs: readonly string[];
  /** apps/agora/dist/src/main.js, or apps/agora/src/main.ts. */
  main: string;
  compiled: boolean;
  /** Why this launcher (for a notice). */
  why: string;
}

export declare function compiledWorkspaces(root?: string): string[];
export declare function buildState(root?: string): BuildState;
export declare function agoraLauncher(env?: Readonly<Record<string, string | undefined>>): AgoraLauncher;
export declare function launchArgs(launcher: Pick<AgoraLauncher, 'nodeArgs' | 'main'>, args: readonly string[]): string[];
/** A workspace's files under src/ that are not TypeScript (the build copies them to dist/src/), relative to src/. */
export declare function sourceAssets(workspace: string): string[];
