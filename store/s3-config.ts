import { z } from 'zod';

/**
 * The S3 store's options, in a module of their own (zod only) so the campaign config can declare
 * them without loading the AWS SDK.
 */

/** One segment of a prefix or a name: no slashes, no dot-segments. */
export const NAME_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Where the store lives on an S3-compatible service. Credentials are not here on purpose: the AWS
 * SDK's default chain reads them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the
 * shared ~/.aws files, SSO, an instance role), so a config file never holds a secret.
 */
export const S3StoreConfig = z.strictObject({
  /** The service's URL; absent for AWS itself (the SDK derives it from the region). */
  endpoint: z.url().optional(),
  bucket: z.string().min(3).max(63),
  /** Slash-separated segments of [A-Za-z0-9._-] under which every key of this store lives. */
  prefix: z
    .string()
    .default('')
    .refine((p) => p === '' || p.split('/').every((s) => NAME_SEGMENT.test(s)), {
      message: 'prefix is slash-separated segments of [A-Za-z0-9._-], without a leading or trailing slash',
    }),
  region: z.string().min(1).default('us-east-1'),
  /** Path-style URLs (endpoint/bucket/key), which most self-hosted S3 servers need. */
  forcePathStyle: z.boolean().default(false),
  /** Multipart part size: files above it go up in parts, 4 at once in memory (S3's minimum: 5 MiB). */
  partSizeMiB: z.number().int().min(5).max(5120).default(16),
});
export type S3StoreConfig = z.output<typeof S3StoreConfig>;
export type S3StoreConfigInput = z.input<typeof S3StoreConfig>;
