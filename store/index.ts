// The artifact store: content-addressed, atomic, verified on read.
export * from './types';
export * from './errors';
export { LocalArtifactStore } from './local';
