import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalArtifactStore } from '../../store';
import { artifactStoreConformance } from './conformance';

async function tempStore(): Promise<LocalArtifactStore> {
  return new LocalArtifactStore(await fs.mkdtemp(path.join(os.tmpdir(), 'lmsi-store-')));
}

describe('LocalArtifactStore', () => {
  describe('conformance', () => {
    artifactStoreConformance({
      make: tempStore,
      corrupt: (store, ref, bytes) => fs.writeFile(store.objectPath(ref), bytes),
    });
  });

  it('leaves nothing in tmp/ after completed writes', async () => {
    const store = await tempStore();
    await store.put('hello\n');
    await store.putJsonl([{ q: 1 }]);
    await store.putNamed('idx/a', { v: 1 });
    await store.putNamed('idx/a', { v: 2 });
    expect(await fs.readdir(path.join(store.root, 'tmp'))).toEqual([]);
    expect(store.namedPath('idx/a')).toBe(path.join(store.root, 'named', 'idx', 'a.json'));
  });

  it('drops a draft line torn by a crash mid-append', async () => {
    const store = await tempStore();
    const name = 'run-1/round-0/shard-3';
    await store.appendDraft(name, [{ q: 'a' }, { q: 'b' }]);
    // A crash in the middle of an append leaves a line without its newline.
    await fs.appendFile(store.draftPath(name), '{"q":"c"');
    expect(await store.readDraft(name)).toEqual([{ q: 'a' }, { q: 'b' }]);
    await store.appendDraft(name, [{ q: 'c' }]);
    expect(await store.readDraft(name)).toEqual([{ q: 'a' }, { q: 'b' }, { q: 'c' }]);
    expect((await store.sealDraft(name)).count).toBe(3);
  });
});
