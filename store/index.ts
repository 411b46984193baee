// The artifact store: content-addressed, atomic, verified on read.
export * from './types';
export * from './errors';
export { LocalArtifactStore } from './local';
export { S3ArtifactStore, S3StoreConfig, type S3StoreConfigInput, type S3StoreOptions } from './s3';
export { createArtifactStore, DEFAULT_ARTIFACT_CACHE_DIR, type ArtifactStoreConfig } from './factory';
