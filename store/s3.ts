import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Transform } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ArtifactCorruptError, ArtifactNotFoundError, InvalidRefError } from './errors';
import { NAME_SEGMENT, S3StoreConfig, type S3StoreConfigInput } from './s3-config';
import { PatientRetryStrategy } from './s3-retry';
import { listFiles, treeTargets } from './tree';
import type { ArtifactRef, ArtifactStore, PutResult, TreeManifest } from './types';

const REF = /^sha256:([0-9a-f]{64})$/;
const MiB = 1024 * 1024;

export { S3StoreConfig, type S3StoreConfigInput } from './s3-config';

export interface S3StoreOptions {
  /**
   * A folder for the local read-through cache, keyed by ref: an artifact of at least `cacheMinBytes`
   * (a checkpoint's weights) is downloaded once per machine and verified when it is written there.
   */
  cacheDir?: string;
  /** Smaller artifacts (records, shards) are always read from the service (default 1 MiB). */
  cacheMinBytes?: number;
  /** Parts uploaded at once by a multipart upload (memory: queueSize × part size). */
  queueSize?: number;
  /**
   * How long a request keeps being retried while the service cannot be reached or answers 5xx
   * (default 60 s): long enough to ride through a restart of the S3 server (store/s3-retry.ts).
   */
  retryPatienceMs?: number;
}

/** A verified local copy of an artifact: in memory, in the cache, or in a temp file to remove. */
type Fetched = { bytes: Buffer } | { file: string; temp: boolean };

/**
 * The S3-compatible store: the same semantics as LocalArtifactStore on objects in a bucket. Keys
 * under `<prefix>/`:
 *   objects/<2 hex>/<62 hex>          immutable artifacts, named by the sha256 of their bytes
 *   drafts/<name>/<10-digit seq>-<hex>.jsonl   one object per append; sealed in key order
 *   named/<name>.json                 named documents (a PUT replaces an object atomically)
 * Writes of unknown length (putJsonl, sealDraft) are spooled to a local temp file while hashed,
 * because the key is the hash; big files go up in multipart uploads and come down as streams, so a
 * checkpoint is never held in memory whole.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly config: S3StoreConfig;
  readonly client: S3Client;
  readonly cacheDir: string | undefined;
  private readonly keyPrefix: string;
  private readonly partSize: number;
  private readonly cacheMinBytes: number;
  private readonly queueSize: number;

  get location(): string {
    return `s3://${this.config.bucket}/${this.config.prefix}`;
  }

  constructor(config: S3StoreConfigInput, options: S3StoreOptions = {}) {
    this.config = S3StoreConfig.parse(config);
    this.keyPrefix = this.config.prefix === '' ? '' : `${this.config.prefix}/`;
    this.partSize = this.config.partSizeMiB * MiB;
    this.cacheDir = options.cacheDir === undefined ? undefined : path.resolve(options.cacheDir);
    this.cacheMinBytes = options.cacheMinBytes ?? MiB;
    this.queueSize = options.queueSize ?? 4;
    this.client = new S3Client({
      endpoint: this.config.endpoint,
      region: this.config.region,
      forcePathStyle: this.config.forcePathStyle,
      retryStrategy: new PatientRetryStrategy(options.retryPatienceMs ?? 60_000),
      // The SDK's default CRC checksums in trailing headers are not understood by every S3-compatible
      // server; integrity is ours anyway: every read is checked against the sha256 in the ref.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /** The key of an artifact; throws InvalidRefError for anything but a well-formed ref. */
  objectKey(ref: ArtifactRef): string {
    const m = REF.exec(ref);
    if (!m) throw new InvalidRefError(ref, 'expected sha256:<64 lowercase hex digits>');
    return `${this.keyPrefix}objects/${m[1].slice(0, 2)}/${m[1].slice(2)}`;
  }

  /** The folder of keys holding a draft's appends. */
  draftKeyPrefix(name: string): string {
    return `${this.keyPrefix}drafts/${checkName(name, 'a draft')}/`;
  }

  namedKey(name: string): string {
    return `${this.keyPrefix}named/${checkName(name, 'a document')}.json`;
  }

  /** Where a key is, for error messages. */
  url(key: string): string {
    return `s3://${this.config.bucket}/${key}`;
  }

  async put(data: Uint8Array | string): Promise<PutResult> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    const hex = createHash('sha256').update(bytes).digest('hex');
    const ref = `sha256:${hex}`;
    // Small and in memory: written again rather than checked first, which also repairs a bad copy.
    await this.client.send(
      new PutObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(ref), Body: bytes }),
    );
    return { ref, bytes: bytes.length };
  }

  async putFile(file: string): Promise<PutResult> {
    // Two passes over the file (hash, then upload): the key is the hash, and a file can be re-read,
    // unlike a stream; an object already there under that hash is not uploaded again.
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of createReadStream(file)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    const ref = `sha256:${hash.digest('hex')}`;
    await this.upload(ref, bytes, file);
    return { ref, bytes };
  }

  async putJson(value: unknown): Promise<PutResult> {
    return this.put(JSON.stringify(value));
  }

  async putJsonl(values: Iterable<unknown> | AsyncIterable<unknown>): Promise<PutResult & { count: number }> {
    let count = 0;
    const result = await this.putStream(async (write) => {
      for await (const value of values) {
        await write(Buffer.from(`${JSON.stringify(value)}\n`, 'utf8'));
        count++;
      }
    });
    return { ...result, count };
  }

  async get(ref: ArtifactRef): Promise<Buffer> {
    const got = await this.fetch(ref);
    if ('bytes' in got) return got.bytes;
    try {
      return await fs.readFile(got.file);
    } finally {
      if (got.temp) await fs.rm(got.file, { force: true });
    }
  }

  async getJson<T = unknown>(ref: ArtifactRef): Promise<T> {
    return JSON.parse((await this.get(ref)).toString('utf8')) as T;
  }

  async *readJsonl<T = unknown>(ref: ArtifactRef): AsyncIterable<T> {
    // fetch verifies the whole artifact before a line is parsed: a corrupt one is never used.
    const got = await this.fetch(ref);
    try {
      const input = 'bytes' in got ? Readable.from([got.bytes]) : createReadStream(got.file);
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        if (line.length > 0) yield JSON.parse(line) as T;
      }
    } finally {
      if ('file' in got && got.temp) await fs.rm(got.file, { force: true });
    }
  }

  async has(ref: ArtifactRef): Promise<boolean> {
    return (await this.headSize(this.objectKey(ref))) !== undefined;
  }

  async putTree(dir: string): Promise<PutResult> {
    const files: Record<string, ArtifactRef> = {};
    for (const rel of await listFiles(dir)) {
      files[rel] = (await this.putFile(path.join(dir, ...rel.split('/')))).ref;
    }
    const manifest: TreeManifest = { kind: 'lmsi.tree', files };
    return this.putJson(manifest);
  }

  async materializeTree(ref: ArtifactRef, dest: string): Promise<void> {
    for (const [target, fileRef] of treeTargets(await this.getJson<TreeManifest>(ref), ref, dest)) {
      await fs.mkdir(path.dirname(target), { recursive: true });
      // A download without the cache lands beside its target, so the final rename stays on one disk.
      const got = await this.fetch(fileRef, `${target}.${randomBytes(6).toString('hex')}.part`);
      if ('bytes' in got) await fs.writeFile(target, got.bytes);
      else if (got.temp) await fs.rename(got.file, target);
      else await fs.copyFile(got.file, target);
    }
  }

  async appendDraft(name: string, values: unknown[]): Promise<void> {
    const folder = this.draftKeyPrefix(name);
    if (values.length === 0) return;
    // One object per append, named by its place in the sequence: a PUT is all or nothing, so a worker
    // killed mid-append leaves no torn line. The random tail keeps two racing writers' parts apart.
    const parts = await this.listKeys(folder);
    const last = parts.length === 0 ? 0 : Number.parseInt(path.posix.basename(parts[parts.length - 1]), 10);
    const seq = String(last + 1).padStart(10, '0');
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: `${folder}${seq}-${randomBytes(4).toString('hex')}.jsonl`,
        Body: values.map((v) => `${JSON.stringify(v)}\n`).join(''),
      }),
    );
  }

  async readDraft<T = unknown>(name: string): Promise<T[]> {
    const out: T[] = [];
    for (const key of await this.listKeys(this.draftKeyPrefix(name))) {
      const text = (await this.getBytes(key, name)).toString('utf8');
      // As in the local store, only complete lines count (a part is written whole, so all are).
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      for (const line of complete.split('\n')) if (line.length > 0) out.push(JSON.parse(line) as T);
    }
    return out;
  }

  async sealDraft(name: string): Promise<PutResult & { count: number }> {
    const keys = await this.listKeys(this.draftKeyPrefix(name));
    let count = 0;
    // The parts' bytes concatenated in order: the same lines putJsonl would write for the same values.
    const result = await this.putStream(async (write) => {
      for (const key of keys) {
        const text = (await this.getBytes(key, name)).toString('utf8');
        const complete = text.slice(0, text.lastIndexOf('\n') + 1);
        for (const line of complete.split('\n')) if (line.length > 0) count++;
        await write(Buffer.from(complete, 'utf8'));
      }
    });
    return { ...result, count };
  }

  async removeDraft(name: string): Promise<void> {
    const keys = await this.listKeys(this.draftKeyPrefix(name));
    for (let i = 0; i < keys.length; i += 1000) {
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.config.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }

  async putNamed(name: string, value: unknown): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: this.namedKey(name),
        Body: JSON.stringify(value),
        ContentType: 'application/json',
      }),
    );
  }

  async getNamed<T = unknown>(name: string): Promise<T | undefined> {
    const key = this.namedKey(name);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return JSON.parse(Buffer.from(await res.Body!.transformToByteArray()).toString('utf8')) as T;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async listNamed(folder: string): Promise<string[]> {
    const dir = this.namedKey(folder).slice(0, -'.json'.length) + '/';
    return (await this.listKeys(dir))
      .map((key) => key.slice(dir.length))
      .filter((n) => n.endsWith('.json') && NAME_SEGMENT.test(n.slice(0, -5)))
      .map((n) => `${folder}/${n.slice(0, -5)}`)
      .sort();
  }

  /** Keys directly under a folder (not in its subfolders), in key order, across every page. */
  private async listKeys(folder: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.config.bucket,
          Prefix: folder,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys.sort();
  }

  private async headSize(key: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** A draft part's bytes (not content-addressed: a part vanishing mid-read is a missing artifact). */
  private async getBytes(key: string, name: string): Promise<Buffer> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (e) {
      if (isNotFound(e)) throw new ArtifactNotFoundError(name, this.url(key));
      throw e;
    }
  }

  /**
   * Uploads a file under its ref unless an object of that size is already there. Up to one part it
   * goes from memory (a retried PUT resends the same bytes); above, in parts (lib-storage holds at
   * most queueSize parts in memory and aborts the upload's parts on failure). Either way the bytes sent
   * are hashed again: a file changed since it was hashed is never left under the old hash.
   */
  private async upload(ref: ArtifactRef, bytes: number, file: string): Promise<void> {
    const key = this.objectKey(ref);
    if ((await this.headSize(key)) === bytes) return;
    const hash = createHash('sha256');
    if (bytes <= this.partSize) {
      const body = await fs.readFile(file);
      if (`sha256:${hash.update(body).digest('hex')}` !== ref) throw changedWhileStored(file, ref);
      await this.client.send(new PutObjectCommand({ Bucket: this.config.bucket, Key: key, Body: body }));
      return;
    }
    const hashed = createReadStream(file).pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      }),
    );
    await new Upload({
      client: this.client,
      params: { Bucket: this.config.bucket, Key: key, Body: hashed },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    }).done();
    if (`sha256:${hash.digest('hex')}` !== ref) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
      throw changedWhileStored(file, ref);
    }
  }

  /**
   * Streams chunks while hashing them: in memory up to one part, then into a temp file, so a big
   * JSONL artifact is never held whole. Uploads the result under its hash.
   */
  private async putStream(
    produce: (write: (chunk: Buffer) => Promise<void>) => Promise<void>,
  ): Promise<PutResult> {
    const hash = createHash('sha256');
    // Assigned inside the producer's callback, so kept in an object that TypeScript does not narrow.
    const st: { bytes: number; held: Buffer[]; spool?: { file: string; out: WriteStream } } = {
      bytes: 0,
      held: [],
    };
    try {
      await produce(async (chunk) => {
        hash.update(chunk);
        st.bytes += chunk.length;
        if (st.spool === undefined) {
          st.held.push(chunk);
          if (st.bytes <= this.partSize) return;
          const file = await this.tempFile();
          st.spool = { file, out: createWriteStream(file) };
          chunk = Buffer.concat(st.held);
          st.held = [];
        }
        const out = st.spool.out;
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
      });
      const ref = `sha256:${hash.digest('hex')}`;
      const spool = st.spool;
      if (spool === undefined) {
        // Small and in memory: written again rather than checked first, as put() does.
        const body = Buffer.concat(st.held);
        await this.client.send(
          new PutObjectCommand({ Bucket: this.config.bucket, Key: this.objectKey(ref), Body: body }),
        );
      } else {
        spool.out.end();
        await finished(spool.out);
        await this.upload(ref, st.bytes, spool.file);
      }
      return { ref, bytes: st.bytes };
    } finally {
      if (st.spool !== undefined) {
        st.spool.out.destroy();
        await fs.rm(st.spool.file, { force: true });
      }
    }
  }

  /**
   * A verified copy of an artifact. From the cache when it holds the ref (checked again as it is
   * read: a disk can rot); else downloaded: into the cache when big enough, into memory when it fits
   * one part, else streamed to `spoolTo` (or a temp file), hashed on the way and checked before use.
   */
  private async fetch(ref: ArtifactRef, spoolTo?: string): Promise<Fetched> {
    const key = this.objectKey(ref);
    const cached = this.cacheDir === undefined ? undefined : this.cachePath(ref);
    if (cached !== undefined && (await verifiedFile(cached, ref))) return { file: cached, temp: false };

    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
    } catch (e) {
      if (isNotFound(e)) throw new ArtifactNotFoundError(ref, this.url(key));
      throw e;
    }
    const body = res.Body as Readable;
    const size = res.ContentLength ?? 0;
    const hash = createHash('sha256');
    if (cached !== undefined && size >= this.cacheMinBytes) {
      const tmp = path.join(this.cacheDir!, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
      await fs.mkdir(path.dirname(tmp), { recursive: true });
      await this.download(ref, key, body, hash, tmp);
      await fs.mkdir(path.dirname(cached), { recursive: true });
      // Only a verified, complete file is renamed into the cache: a reader never sees a partial one.
      await fs.rename(tmp, cached);
      return { file: cached, temp: false };
    }
    if (size <= this.partSize) {
      const bytes = Buffer.from(await res.Body!.transformToByteArray());
      const actual = hash.update(bytes).digest('hex');
      if (`sha256:${actual}` !== ref) throw new ArtifactCorruptError(ref, this.url(key), actual);
      return { bytes };
    }
    const file = spoolTo ?? (await this.tempFile());
    await this.download(ref, key, body, hash, file);
    return { file, temp: true };
  }

  /** Streams a body into a file while hashing it; removes the file and throws when it is corrupt. */
  private async download(
    ref: ArtifactRef,
    key: string,
    body: Readable,
    hash: Hash,
    file: string,
  ): Promise<void> {
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(file),
      );
      const actual = hash.digest('hex');
      if (`sha256:${actual}` !== ref) throw new ArtifactCorruptError(ref, this.url(key), actual);
    } catch (e) {
      await fs.rm(file, { force: true });
      throw e;
    }
  }

  private cachePath(ref: ArtifactRef): string {
    const hex = REF.exec(ref)![1];
    return path.join(this.cacheDir!, 'objects', hex.slice(0, 2), hex.slice(2));
  }

  private async tempFile(): Promise<string> {
    const dir = this.cacheDir === undefined ? os.tmpdir() : path.join(this.cacheDir, 'tmp');
    await fs.mkdir(dir, { recursive: true });
    return path.join(dir, `lmsi-s3-${process.pid}-${randomBytes(8).toString('hex')}`);
  }
}

/** Checks a draft or document name: segments of [A-Za-z0-9._-], so none is `..` or empty. */
function checkName(name: string, what: string): string {
  const segments = name.split('/');
  if (name.length === 0 || name.length > 200 || !segments.every((s) => NAME_SEGMENT.test(s))) {
    throw new InvalidRefError(name, `${what} name is slash-separated segments of [A-Za-z0-9._-]`);
  }
  return name;
}

function changedWhileStored(file: string, ref: ArtifactRef): Error {
  return new Error(`${file} changed while it was being stored (it hashed to ${ref} before); store it again`);
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
}

/**
 * True when a cache file exists and still hashes to its ref. A file that does not is removed, so the
 * caller downloads it again instead of using it.
 */
async function verifiedFile(file: string, ref: ArtifactRef): Promise<boolean> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  if (`sha256:${hash.digest('hex')}` === ref) return true;
  await fs.rm(file, { force: true });
  return false;
}
