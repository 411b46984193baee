// The artifact store: content-addressed, atomic, verified on read.
export * from './types';
export * from './errors';
export { LocalArtifactStore } from './local';
export { S3StoreConfig, type S3StoreConfigInput } from './s3-config';
// The S3 store's class comes from './s3' itself, or from createArtifactStore: importing the store's
// index does not load the AWS SDK.
export type { S3ArtifactStore, S3StoreOptions } from './s3';
export { createArtifactStore, DEFAULT_ARTIFACT_CACHE_DIR, type ArtifactStoreConfig } from './factory';
