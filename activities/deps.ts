import type { ArtifactStore } from '../store';

/** What activities need from their worker: injected, so tests and workers choose the store. */
export interface ActivityDeps {
  store: ArtifactStore;
}
