import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import { ArtifactCorruptError, ArtifactNotFoundError, InvalidRefError } from './errors';
import { listFiles, treeTargets } from './tree';
import type { ArtifactRef, ArtifactStore, PutResult, TreeManifest } from './types';

const REF = /^sha256:([0-9a-f]{64})$/;
const NAME_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * The local-filesystem store. Layout under `root`:
 *   objects/<2 hex>/<62 hex>   immutable artifacts, named by the sha256 of their bytes
 *   drafts/<name>.jsonl        append-only work in progress
 *   named/<name>.json          named documents, replaced atomically (mutable pointers)
 *   tmp/                       temp files, renamed into objects/ once complete (atomic publish)
 */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get location(): string {
    return this.root;
  }

  /** Where an artifact lives; throws InvalidRefError for anything but a well-formed ref. */
  objectPath(ref: ArtifactRef): string {
    const m = REF.exec(ref);
    if (!m) throw new InvalidRefError(ref, 'expected sha256:<64 lowercase hex digits>');
    return this.inside(path.join(this.root, 'objects', m[1].slice(0, 2), m[1].slice(2)), ref);
  }

  draftPath(name: string): string {
    return this.namePath('drafts', name, '.jsonl', 'a draft');
  }

  /** Where a named document lives; throws InvalidRefError for a name that could leave named/. */
  namedPath(name: string): string {
    return this.namePath('named', name, '.json', 'a document');
  }

  private namePath(dir: string, name: string, ext: string, what: string): string {
    const segments = name.split('/');
    if (name.length === 0 || name.length > 200 || !segments.every((s) => NAME_SEGMENT.test(s))) {
      throw new InvalidRefError(name, `${what} name is slash-separated segments of [A-Za-z0-9._-]`);
    }
    return this.inside(path.join(this.root, dir, `${name}${ext}`), name);
  }

  async put(data: Uint8Array | string): Promise<PutResult> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    const hex = createHash('sha256').update(bytes).digest('hex');
    const tmp = await this.tempPath();
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return this.publish(tmp, hex, bytes.length);
  }

  async putFile(file: string): Promise<PutResult> {
    return this.putStream(async (write) => {
      for await (const chunk of createReadStream(file)) await write(chunk as Buffer);
    });
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
    const file = this.objectPath(ref);
    const bytes = await this.readObject(ref, file);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (`sha256:${actual}` !== ref) throw new ArtifactCorruptError(ref, file, actual);
    return bytes;
  }

  async getJson<T = unknown>(ref: ArtifactRef): Promise<T> {
    return JSON.parse((await this.get(ref)).toString('utf8')) as T;
  }

  async *readJsonl<T = unknown>(ref: ArtifactRef): AsyncIterable<T> {
    const file = this.objectPath(ref);
    await this.verifyStreaming(ref, file);
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.length > 0) yield JSON.parse(line) as T;
    }
  }

  async has(ref: ArtifactRef): Promise<boolean> {
    try {
      await fs.access(this.objectPath(ref));
      return true;
    } catch (e) {
      if (e instanceof InvalidRefError) throw e;
      return false;
    }
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
      await fs.writeFile(target, await this.get(fileRef));
    }
  }

  async appendDraft(name: string, values: unknown[]): Promise<void> {
    const file = this.draftPath(name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await dropTornTail(file);
    const fh = await fs.open(file, 'a');
    try {
      await fh.writeFile(values.map((v) => `${JSON.stringify(v)}\n`).join(''));
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async readDraft<T = unknown>(name: string): Promise<T[]> {
    let text: string;
    try {
      text = await fs.readFile(this.draftPath(name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    // A line without its newline was torn by a crash mid-append: it was never acknowledged, drop it.
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    return complete
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as T);
  }

  async sealDraft(name: string): Promise<PutResult & { count: number }> {
    return this.putJsonl(await this.readDraft(name));
  }

  async removeDraft(name: string): Promise<void> {
    await fs.rm(this.draftPath(name), { force: true });
  }

  async putNamed(name: string, value: unknown): Promise<void> {
    const file = this.namedPath(name);
    const tmp = await this.tempPath();
    const fh = await fs.open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(value));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.mkdir(path.dirname(file), { recursive: true });
    // rename replaces the old document atomically: a concurrent reader gets one or the other.
    await fs.rename(tmp, file);
    await fsyncDir(path.dirname(file));
  }

  async getNamed<T = unknown>(name: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.namedPath(name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return JSON.parse(text) as T;
  }

  async listNamed(folder: string): Promise<string[]> {
    const dir = this.namedPath(folder).slice(0, -'.json'.length);
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return entries
      .filter((e) => e.isFile() && e.name.endsWith('.json') && NAME_SEGMENT.test(e.name.slice(0, -5)))
      .map((e) => `${folder}/${e.name.slice(0, -5)}`)
      .sort();
  }

  private inside(resolved: string, ref: string): string {
    if (!resolved.startsWith(this.root + path.sep)) throw new InvalidRefError(ref, 'escapes the store root');
    return resolved;
  }

  private async tempPath(): Promise<string> {
    const dir = path.join(this.root, 'tmp');
    await fs.mkdir(dir, { recursive: true });
    return path.join(dir, `${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  /** Streams chunks into a temp file while hashing them, then publishes it under its hash. */
  private async putStream(
    produce: (write: (chunk: Buffer) => Promise<void>) => Promise<void>,
  ): Promise<PutResult> {
    const tmp = await this.tempPath();
    const hash = createHash('sha256');
    const out = createWriteStream(tmp);
    let bytes = 0;
    try {
      await produce(async (chunk) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
      });
      out.end();
      await finished(out);
    } catch (e) {
      out.destroy();
      await fs.rm(tmp, { force: true });
      throw e;
    }
    const fh = await fs.open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return this.publish(tmp, hash.digest('hex'), bytes);
  }

  /** Renames a complete, fsynced temp file into objects/ (atomic), keeping an intact existing copy. */
  private async publish(tmp: string, hex: string, bytes: number): Promise<PutResult> {
    const ref = `sha256:${hex}`;
    const target = this.objectPath(ref);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(tmp, target);
    await fsyncDir(path.dirname(target));
    return { ref, bytes };
  }

  private async readObject(ref: ArtifactRef, file: string): Promise<Buffer> {
    try {
      return await fs.readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ArtifactNotFoundError(ref, file);
      throw e;
    }
  }

  private async verifyStreaming(ref: ArtifactRef, file: string): Promise<void> {
    const hash = createHash('sha256');
    try {
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ArtifactNotFoundError(ref, file);
      throw e;
    }
    const actual = hash.digest('hex');
    if (`sha256:${actual}` !== ref) throw new ArtifactCorruptError(ref, file, actual);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Truncates a draft back to its last complete line, so the next append starts on a fresh line. */
async function dropTornTail(file: string): Promise<void> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return;
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    if (last[0] === 0x0a) return;
    const text = await fs.readFile(file);
    await fh.truncate(text.lastIndexOf(0x0a) + 1);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
