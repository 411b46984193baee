import type { ArtifactStore } from '../store';

/** What activities need from their worker: injected, so tests and workers choose them. */
export interface ActivityDeps {
  store: ArtifactStore;
  /** Local folder where model artifacts are unpacked for onnxruntime (one folder per model ref). */
  cacheDir: string;
  /** onnxruntime intra-op threads for accelerator activities (default: every core). */
  threads?: number;
  /**
   * Threads for sampling and evaluation only (default: `threads`). A small model on CPU samples as
   * fast on one thread as on two (per-row attention GEMMs and elementwise ops, not arithmetic, bound
   * it), so one worker process per core, each on one thread, samples the shards nearly twice as fast.
   */
  samplingThreads?: number;
}
