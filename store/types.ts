/**
 * The artifact store: where samples, datasets, checkpoints and reports live. Workflows carry only refs
 * (short strings) to them, so a round's history does not grow with the number of questions.
 *
 * Content-addressed: an artifact's ref is the sha256 of its bytes, so the same content always has the
 * same ref (a resumed round that rebuilds a byte-identical training set gets the identical ref) and a
 * corrupted file is detected on read. A second backend (S3-compatible) implements this interface.
 */

/** `sha256:<64 lowercase hex>` */
export type ArtifactRef = string;

export interface PutResult {
  ref: ArtifactRef;
  bytes: number;
}

/** A manifest artifact that names a folder's files (a checkpoint, say) by their refs. */
export interface TreeManifest {
  kind: 'lmsi.tree';
  files: Record<string, ArtifactRef>; // relative POSIX path → ref
}

export interface ArtifactStore {
  /** Where the store is, for messages: its folder, or s3://bucket/prefix. */
  readonly location: string;
  /** Stores bytes (atomically) and returns their ref. Idempotent. */
  put(data: Uint8Array | string): Promise<PutResult>;
  /** Stores a file's bytes, streamed. */
  putFile(path: string): Promise<PutResult>;
  /** Stores values as JSON Lines, one per line. */
  putJsonl(values: Iterable<unknown> | AsyncIterable<unknown>): Promise<PutResult & { count: number }>;
  putJson(value: unknown): Promise<PutResult>;
  /** The verified bytes of an artifact; throws ArtifactCorruptError / ArtifactNotFoundError. */
  get(ref: ArtifactRef): Promise<Buffer>;
  getJson<T = unknown>(ref: ArtifactRef): Promise<T>;
  /** Verifies the whole artifact first, then yields its lines parsed (a corrupt one is never used). */
  readJsonl<T = unknown>(ref: ArtifactRef): AsyncIterable<T>;
  has(ref: ArtifactRef): Promise<boolean>;
  /** Stores every file under a folder and a manifest naming them; returns the manifest's ref. */
  putTree(dir: string): Promise<PutResult>;
  /** Writes a tree's files (verified) under dest, which must not exist or be empty. */
  materializeTree(ref: ArtifactRef, dest: string): Promise<void>;

  /**
   * Drafts: named, append-only JSONL files for work in progress (a shard's samples while it is being
   * sampled). Appends are fsynced, so a killed worker loses at most the line it was writing; a torn
   * last line is dropped on read. `sealDraft` turns a draft into an immutable artifact.
   */
  appendDraft(name: string, values: unknown[]): Promise<void>;
  readDraft<T = unknown>(name: string): Promise<T[]>;
  sealDraft(name: string): Promise<PutResult & { count: number }>;
  removeDraft(name: string): Promise<void>;

  /**
   * Named documents: small JSON values under a name (slash-separated segments of [A-Za-z0-9._-]),
   * replaced as a whole and atomically (temp file, fsync, rename), so a reader sees the old value or
   * the new one, never a torn one. Unlike artifacts they are mutable pointers (the campaign index,
   * report/campaign-index.ts, which outlives Temporal's retention of a campaign's workflows).
   */
  putNamed(name: string, value: unknown): Promise<void>;
  /** A named document's value, or undefined when there is none. */
  getNamed<T = unknown>(name: string): Promise<T | undefined>;
  /** The names of the documents directly under a folder of names (sorted; [] when there are none). */
  listNamed(folder: string): Promise<string[]>;
}
