import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import {
  ArtifactCorruptError,
  ArtifactNotFoundError,
  InvalidRefError,
  LocalArtifactStore,
} from '../../store';

async function tempStore(): Promise<LocalArtifactStore> {
  return new LocalArtifactStore(await fs.mkdtemp(path.join(os.tmpdir(), 'lmsi-store-')));
}

describe('LocalArtifactStore', () => {
  it('names content by its sha256 and is idempotent', async () => {
    const store = await tempStore();
    const a = await store.put('hello\n');
    expect(a.ref).toBe(`sha256:${createHash('sha256').update('hello\n').digest('hex')}`);
    expect(a.bytes).toBe(6);
    expect(await store.put(Buffer.from('hello\n'))).toEqual(a);
    expect((await store.get(a.ref)).toString()).toBe('hello\n');
    expect(await store.has(a.ref)).toBe(true);
    // Nothing is left behind in tmp/ by completed writes.
    expect(await fs.readdir(path.join(store.root, 'tmp'))).toEqual([]);
  });

  it('rejects a corrupted artifact on read, naming the ref', async () => {
    const store = await tempStore();
    const { ref } = await store.putJsonl([{ q: 1 }, { q: 2 }]);
    await fs.writeFile(store.objectPath(ref), '{"q":1}\n{"q":3}\n');
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
    const store = await tempStore();
    const ref = `sha256:${'0'.repeat(64)}`;
    await expect(store.get(ref)).rejects.toThrow(ArtifactNotFoundError);
    await expect(store.get(ref)).rejects.toThrow(ref);
    expect(await store.has(ref)).toBe(false);
  });

  it('streams JSONL in and out', async () => {
    const store = await tempStore();
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
    const store = await tempStore();
    for (const bad of ['../../etc/passwd', '/etc/passwd', 'sha256:../../x', `sha256:${'A'.repeat(64)}`, '']) {
      await expect(store.get(bad)).rejects.toThrow(InvalidRefError);
    }
    for (const bad of ['../x', 'a/../../x', '/abs', 'a//b', '.hidden', 'a/..', '']) {
      await expect(store.appendDraft(bad, [1])).rejects.toThrow(InvalidRefError);
      await expect(store.putNamed(bad, 1)).rejects.toThrow(InvalidRefError);
      await expect(store.getNamed(bad)).rejects.toThrow(InvalidRefError);
      await expect(store.listNamed(bad)).rejects.toThrow(InvalidRefError);
    }
  });

  it('replaces named documents atomically and lists a folder of them', async () => {
    const store = await tempStore();
    expect(await store.getNamed('idx/a')).toBeUndefined();
    expect(await store.listNamed('idx')).toEqual([]);
    await store.putNamed('idx/b', { v: 1 });
    await store.putNamed('idx/a', { v: 1 });
    await store.putNamed('idx/a', { v: 2 });
    await store.putNamed('idx/sub/c', { v: 3 });
    expect(await store.getNamed('idx/a')).toEqual({ v: 2 });
    // Only the documents directly in the folder, not its subfolders; nothing left in tmp/.
    expect(await store.listNamed('idx')).toEqual(['idx/a', 'idx/b']);
    expect(await fs.readdir(path.join(store.root, 'tmp'))).toEqual([]);
    expect(store.namedPath('idx/a')).toBe(path.join(store.root, 'named', 'idx', 'a.json'));
  });

  it('keeps drafts across appends, drops a torn last line and seals them into an artifact', async () => {
    const store = await tempStore();
    const name = 'run-1/round-0/shard-3';
    await store.appendDraft(name, [{ q: 'a' }, { q: 'b' }]);
    // A crash in the middle of an append leaves a line without its newline.
    await fs.appendFile(store.draftPath(name), '{"q":"c"');
    expect(await store.readDraft(name)).toEqual([{ q: 'a' }, { q: 'b' }]);
    await store.appendDraft(name, [{ q: 'c' }]);
    expect(await store.readDraft(name)).toEqual([{ q: 'a' }, { q: 'b' }, { q: 'c' }]);
    const sealed = await store.sealDraft(name);
    expect(sealed.count).toBe(3);
    expect((await store.putJsonl([{ q: 'a' }, { q: 'b' }, { q: 'c' }])).ref).toBe(sealed.ref);
    await store.removeDraft(name);
    expect(await store.readDraft(name)).toEqual([]);
  });

  it('stores and materialises folders, refusing manifests that point outside', async () => {
    const store = await tempStore();
    const src = await fs.mkdtemp(path.join(os.tmpdir(), 'lmsi-tree-'));
    await fs.mkdir(path.join(src, 'onnx'));
    await fs.writeFile(path.join(src, 'config.json'), '{"dModel":8}');
    await fs.writeFile(path.join(src, 'onnx', 'model.onnx'), Buffer.from([1, 2, 3]));
    const { ref } = await store.putTree(src);
    const dest = path.join(src, '..', `${path.basename(src)}-copy`);
    await store.materializeTree(ref, dest);
    expect(await fs.readFile(path.join(dest, 'onnx', 'model.onnx'))).toEqual(Buffer.from([1, 2, 3]));
    expect(await fs.readFile(path.join(dest, 'config.json'), 'utf8')).toBe('{"dModel":8}');

    const evil = await store.putJson({
      kind: 'lmsi.tree',
      files: { '../escape': (await store.put('x')).ref },
    });
    await expect(store.materializeTree(evil.ref, path.join(dest, 'evil'))).rejects.toThrow(InvalidRefError);
  });
});
