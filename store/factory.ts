import * as path from 'node:path';
import { LocalArtifactStore } from './local';
import { S3ArtifactStore, type S3StoreConfigInput } from './s3';
import type { ArtifactStore } from './types';

/**
 * Where a campaign's artifacts live, as the config's `artifacts` section gives it: a folder shared by
 * every worker (one machine, or a network file system), or an S3-compatible bucket with a local
 * read-through cache on each worker.
 */
export type ArtifactStoreConfig =
  { dir: string; s3?: undefined } | { s3: S3StoreConfigInput; cacheDir?: string; dir?: string };

/** Default folder of the S3 store's read-through cache, beside the local store's default folder. */
export const DEFAULT_ARTIFACT_CACHE_DIR = '.state/artifact-cache';

/**
 * The store a config names: S3 when `s3` is given (with `cacheDir`, default
 * .state/artifact-cache), else the local folder `dir`. Relative folders resolve against `baseDir`
 * (default: the working directory).
 */
export function createArtifactStore(config: ArtifactStoreConfig, baseDir = process.cwd()): ArtifactStore {
  if (config.s3 !== undefined) {
    const cacheDir = path.resolve(baseDir, config.cacheDir ?? DEFAULT_ARTIFACT_CACHE_DIR);
    return new S3ArtifactStore(config.s3, { cacheDir });
  }
  return new LocalArtifactStore(path.resolve(baseDir, config.dir));
}
