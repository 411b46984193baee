import type { ArtifactStore } from '../store';

/** What activities need from their worker: injected, so tests and workers choose them. */
export interface ActivityDeps {
  store: ArtifactStore;
  /** Local folder where model artifacts are unpacked for onnxruntime (one folder per model ref). */
  cacheDir: string;
  /** onnxruntime intra-op threads for accelerator activities (default: every core). */
  threads?: number;
}
