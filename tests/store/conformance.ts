import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArtifactCorruptError, ArtifactNotFoundError, InvalidRefError } from '../../store';
import type { ArtifactRef, ArtifactStore } from '../../store';

/** What the shared behaviour tests need from a backend beyond the ArtifactStore interface. */
export interface StoreBackend<S extends ArtifactStore> {
  /** A new, empty store. */
  make(): Promise<S>;
  /** Replaces an artifact's stored bytes behind the store's back (a disk or a service gone bad). */
  corrupt(store: S, ref: ArtifactRef, bytes: Buffer): Promise<void>;
}

/**
 * The behaviour every ArtifactStore shares (tests/store/local.test.ts and s3.test.ts run it): call it
 * inside a describe block.
 */
export function artifactStoreConformance<S extends ArtifactStore>(backend: StoreBackend<S>): void {
  it('names content by its sha256 and is idempotent', async () => {
    const store = await backend.make();
    const a = await store.put('hello\n');
    expect(a.ref).toBe(`sha256:${createHash('sha256').update('hello\n').digest('hex')}`);
    expect(a.bytes).toBe(6);
    expect(await store.put(Buffer.from('hello\n'))).toEqual(a);
    expect((await store.get(a.ref)).toString()).toBe('hello\n');
    expect(await store.has(a.ref)).toBe(true);
  });

  it('rejects a corrupted artifact on read, naming the ref', async () => {
    const store = await backend.make();
    const { ref } = await store.putJsonl([{ q: 1 }, { q: 2 }]);
    await backend.corrupt(store, ref, Buffer.from('{"q":1}\n{"q":3}\n'));
    await expect(store.get(ref)).rejects.toThrow(ArtifactCorruptError);
    await expect(store.get(ref)).rejects.toThrow(ref);
    const read = async () => {
      const out: unknown[] = [];
      for await (const v of store.readJsonl(ref)) out.push(v);
      return out;
    };
    // Streaming readers verify before yielding anything: no corrupt line is ever used.
    await expect(read()).rejects.toThrow(`artifact ${ref} is corrupt`);
  });

  it('reports a missing artifact with its ref', async () => {
    const store = await backend.make();
    const ref = `sha256:${'0'.repeat(64)}`;
    await expect(store.get(ref)).rejects.toThrow(ArtifactNotFoundError);
    await expect(store.get(ref)).rejects.toThrow(ref);
    expect(await store.has(ref)).toBe(false);
  });

  it('streams JSONL in and out', async () => {
    const store = await backend.make();
    async function* gen() {
      for (let i = 0; i < 1000; i++) yield { i, text: `question ${i}` };
    }
    const { ref, count } = await store.putJsonl(gen());
    expect(count).toBe(1000);
    let n = 0;
    for await (const v of store.readJsonl<{ i: number }>(ref)) expect(v.i).toBe(n++);
    expect(n).toBe(1000);
    expect(await store.getJson<{ a: number }>((await store.putJson({ a: 1 })).ref)).toEqual({ a: 1 });
  });

  it('never lets a ref or a draft name escape the root', async () => {
    const store = await backend.make();
    for (const bad of ['../../etc/passwd', '/etc/passwd', 'sha256:../../x', `sha256:${'A'.repeat(64)}`, '']) {
      await expect(store.get(bad)).rejects.toThrow(InvalidRefError);
      await expect(store.has(bad)).rejects.toThrow(InvalidRefError);
    }
    for (const bad of ['../x', 'a/../../x', '/abs', 'a//b', '.hidden', 'a/..', '']) {
      await expect(store.appendDraft(bad, [1])).rejects.toThrow(InvalidRefError);
      await expect(store.readDraft(bad)).rejects.toThrow(InvalidRefError);
      await expect(store.removeDraft(bad)).rejects.toThrow(InvalidRefError);
      await expect(store.putNamed(bad, 1)).rejects.toThrow(InvalidRefError);
      await expect(store.getNamed(bad)).rejects.toThrow(InvalidRefError);
      await expect(store.listNamed(bad)).rejects.toThrow(InvalidRefError);
    }
  });

  it('replaces named documents and lists a folder of them', async () => {
    const store = await backend.make();
    expect(await store.getNamed('idx/a')).toBeUndefined();
    expect(await store.listNamed('idx')).toEqual([]);
    await store.putNamed('idx/b', { v: 1 });
    await store.putNamed('idx/a', { v: 1 });
    await store.putNamed('idx/a', { v: 2 });
    await store.putNamed('idx/sub/c', { v: 3 });
    expect(await store.getNamed('idx/a')).toEqual({ v: 2 });
    expect(await store.getNamed('idx/sub/c')).toEqual({ v: 3 });
    // Only the documents directly in the folder, not its subfolders.
    expect(await store.listNamed('idx')).toEqual(['idx/a', 'idx/b']);
    expect(await store.listNamed('idx/sub')).toEqual(['idx/sub/c']);
  });

  it('keeps drafts across appends and seals them into the artifact putJsonl would write', async () => {
    const store = await backend.make();
    const name = 'run-1/round-0/shard-3';
    expect(await store.readDraft(name)).toEqual([]);
    await store.appendDraft(name, [{ q: 'a' }, { q: 'b' }]);
    await store.appendDraft(name, []);
    await store.appendDraft(name, [{ q: 'c' }]);
    // A draft whose name extends another's is a separate draft.
    await store.appendDraft(`${name}/x`, [{ q: 'other' }]);
    expect(await store.readDraft(name)).toEqual([{ q: 'a' }, { q: 'b' }, { q: 'c' }]);
    const sealed = await store.sealDraft(name);
    expect(sealed.count).toBe(3);
    expect((await store.putJsonl([{ q: 'a' }, { q: 'b' }, { q: 'c' }])).ref).toBe(sealed.ref);
    const lines: unknown[] = [];
    for await (const v of store.readJsonl(sealed.ref)) lines.push(v);
    expect(lines).toEqual([{ q: 'a' }, { q: 'b' }, { q: 'c' }]);
    await store.removeDraft(name);
    expect(await store.readDraft(name)).toEqual([]);
    expect(await store.readDraft(`${name}/x`)).toEqual([{ q: 'other' }]);
    // Sealing an empty draft gives the empty artifact.
    expect(await store.sealDraft('empty')).toMatchObject({ count: 0, bytes: 0 });
  });

  it('stores and materialises folders, refusing manifests that point outside', async () => {
    const store = await backend.make();
    const src = await fs.mkdtemp(path.join(os.tmpdir(), 'lmsi-tree-'));
    await fs.mkdir(path.join(src, 'onnx'));
    await fs.writeFile(path.join(src, 'config.json'), '{"dModel":8}');
    await fs.writeFile(path.join(src, 'onnx', 'model.onnx'), Buffer.from([1, 2, 3]));
    await fs.writeFile(path.join(src, 'empty.txt'), '');
    const { ref } = await store.putTree(src);
    const dest = path.join(src, '..', `${path.basename(src)}-copy`);
    await store.materializeTree(ref, dest);
    expect(await fs.readFile(path.join(dest, 'onnx', 'model.onnx'))).toEqual(Buffer.from([1, 2, 3]));
    expect(await fs.readFile(path.join(dest, 'config.json'), 'utf8')).toBe('{"dModel":8}');
    expect(await fs.readFile(path.join(dest, 'empty.txt'), 'utf8')).toBe('');

    const evil = await store.putJson({
      kind: 'lmsi.tree',
      files: { '../escape': (await store.put('x')).ref },
    });
    await expect(store.materializeTree(evil.ref, path.join(dest, 'evil'))).rejects.toThrow(InvalidRefError);
    const notTree = await store.putJson({ kind: 'something else' });
    await expect(store.materializeTree(notTree.ref, path.join(dest, 'not'))).rejects.toThrow(InvalidRefError);
  });
}
