/** An artifact whose bytes no longer hash to its ref: never used, always reported with the ref. */
export class ArtifactCorruptError extends Error {
  override readonly name = 'ArtifactCorruptError';
  constructor(
    readonly ref: string,
    readonly path: string,
    actual: string,
  ) {
    super(`artifact ${ref} is corrupt: ${path} hashes to sha256:${actual}`);
  }
}

export class ArtifactNotFoundError extends Error {
  override readonly name = 'ArtifactNotFoundError';
  constructor(
    readonly ref: string,
    readonly path: string,
  ) {
    super(`artifact ${ref} not found (expected at ${path})`);
  }
}

/** A ref or draft name that is malformed or would resolve outside the store root. */
export class InvalidRefError extends Error {
  override readonly name = 'InvalidRefError';
  constructor(
    readonly ref: string,
    why: string,
  ) {
    super(`invalid artifact ref ${JSON.stringify(ref)}: ${why}`);
  }
}
