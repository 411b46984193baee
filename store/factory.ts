import * as path from 'node:path';
import { LocalArtifactStore } from './local';
import type { S3StoreConfigInput } from './s3-config';
import type { ArtifactStore } from './types';

/**
 * Where a campaign's artifacts live, as the config's `artifacts` section gives it: a folder shared by
 * every worker (one machine, or a network file system), or an S3-compatible bucket with a local
 * read-through cache on each worker (in `cacheDir`, else in `dir`, else the default below).
 */
export interface ArtifactStoreConfig {
  dir?: string;
  s3?: S3StoreConfigInput;
  cacheDir?: string;
}

/** The S3 store's cache folder when the config names neither `cacheDir` nor `dir`. */
export const DEFAULT_ARTIFACT_CACHE_DIR = '.state/artifact-cache';

/**
 * The store a config names: S3 when `s3` is given, else the local folder `dir`. Relative folders
 * resolve against `baseDir` (default: the working directory). The cache keeps the local store's
 * layout (objects/<2 hex>/<62 hex>, verified by hash), so `dir` can serve as either.
 */
export function createArtifactStore(config: ArtifactStoreConfig, baseDir = process.cwd()): ArtifactStore {
  if (config.s3 !== undefined) {
    const cacheDir = path.resolve(baseDir, config.cacheDir ?? config.dir ?? DEFAULT_ARTIFACT_CACHE_DIR);
    // Required here, not at the top: the AWS SDK loads only where a campaign keeps its artifacts on
    // S3, not for every command of the CLI.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3ArtifactStore } = require('./s3') as typeof import('./s3');
    return new S3ArtifactStore(config.s3, { cacheDir });
  }
  if (config.dir === undefined) throw new Error('artifacts: give `dir` (a folder) or `s3` (a bucket)');
  return new LocalArtifactStore(path.resolve(baseDir, config.dir));
}
