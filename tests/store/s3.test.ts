import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import {
  ArtifactCorruptError,
  ArtifactNotFoundError,
  InvalidRefError,
  LocalArtifactStore,
  S3StoreConfig,
  createArtifactStore,
  type S3StoreConfigInput,
} from '../../store';
import { S3ArtifactStore, type S3StoreOptions } from '../../store/s3';
import { startCampaign } from '../../client';
import { writeArithSplits } from '../../method/tasks/arith';
import { readCampaignIndex } from '../../report';
import { testCampaignConfig } from '../../testing/campaign-config';
import { writeRandomTinyModel } from '../../testing/tiny-model';
import { createLmsiWorker } from '../../workers';
import { withWorkers } from '../helpers/campaign';
import { connectTestTemporal, workflowBundle } from '../helpers/temporal';
import { artifactStoreConformance } from './conformance';
import { startTestS3Server, type TestS3Server } from './s3-server';

let server: TestS3Server;
/** Every temp folder of this file (some hold files of several MiB), removed at the end. */
let scratch: string;

beforeAll(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'lmsi-s3-test-'));
  server = await startTestS3Server();
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await fs.rm(scratch, { recursive: true, force: true });
}, 60_000);

const tempDir = (name: string) => fs.mkdtemp(path.join(scratch, `${name}-`));

/** A store under a fresh prefix of the test bucket: each test sees an empty store. */
function s3Store(config: Partial<S3StoreConfigInput> = {}, options: S3StoreOptions = {}): S3ArtifactStore {
  return new S3ArtifactStore(
    {
      endpoint: server.endpoint,
      bucket: server.bucket,
      prefix: `t-${randomBytes(6).toString('hex')}`,
      forcePathStyle: true,
      ...config,
    },
    options,
  );
}

/** Writes an object's bytes straight through the SDK, as a bad disk or another writer would. */
async function overwrite(store: S3ArtifactStore, key: string, bytes: Buffer): Promise<void> {
  await store.client.send(new PutObjectCommand({ Bucket: store.config.bucket, Key: key, Body: bytes }));
}

async function keysUnder(store: S3ArtifactStore, prefix: string): Promise<string[]> {
  const page = await store.client.send(
    new ListObjectsV2Command({ Bucket: store.config.bucket, Prefix: prefix }),
  );
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

async function sha256File(file: string): Promise<string> {
  return `sha256:${createHash('sha256')
    .update(await fs.readFile(file))
    .digest('hex')}`;
}

describe('S3ArtifactStore (against a real SeaweedFS S3 server)', () => {
  describe('conformance', () => {
    artifactStoreConformance({
      make: async () => s3Store(),
      corrupt: (store, ref, bytes) => overwrite(store, store.objectKey(ref), bytes),
    });
  });

  it('uploads a file above the part size in parts, and streams it back verified', async () => {
    const store = s3Store({ partSizeMiB: 5 });
    const dir = await tempDir('lmsi-s3-big');
    const big = path.join(dir, 'model.onnx');
    await fs.writeFile(big, randomBytes(12 * 1024 * 1024 + 123));
    const put = await store.putFile(big);
    expect(put.ref).toBe(await sha256File(big));
    expect(put.bytes).toBe(12 * 1024 * 1024 + 123);
    // A multipart object's ETag ends in -<number of parts>: three 5 MiB parts for ~12 MiB.
    const head = await store.client.send(
      new HeadObjectCommand({ Bucket: store.config.bucket, Key: store.objectKey(put.ref) }),
    );
    expect(head.ETag).toMatch(/-3"?$/);
    expect(head.ContentLength).toBe(put.bytes);
    // Putting it again uploads nothing new and gives the same ref.
    expect(await store.putFile(big)).toEqual(put);

    const tree = await store.putTree(dir);
    const dest = path.join(dir, 'copy');
    await store.materializeTree(tree.ref, dest);
    expect(await sha256File(path.join(dest, 'model.onnx'))).toBe(put.ref);
    // The download streamed into a part file beside the target, renamed when verified.
    expect(await fs.readdir(dest)).toEqual(['model.onnx']);
    expect((await store.get(put.ref)).length).toBe(put.bytes);
  });

  it('spools a JSONL artifact bigger than a part through a temp file', async () => {
    const store = s3Store({ partSizeMiB: 5 });
    const line = { text: 'x'.repeat(1000) };
    const { ref, count, bytes } = await store.putJsonl(
      Array.from({ length: 6000 }, (_, i) => ({ i, ...line })),
    );
    expect(count).toBe(6000);
    expect(bytes).toBeGreaterThan(5 * 1024 * 1024);
    let n = 0;
    for await (const v of store.readJsonl<{ i: number }>(ref)) expect(v.i).toBe(n++);
    expect(n).toBe(6000);
  });

  it('detects a corrupted big object while streaming it, and leaves no file behind', async () => {
    const store = s3Store({ partSizeMiB: 5 });
    const dir = await tempDir('lmsi-s3-rot');
    await fs.writeFile(path.join(dir, 'weights.bin'), randomBytes(6 * 1024 * 1024));
    const tree = await store.putTree(dir);
    const fileRef = (await store.getJson<{ files: Record<string, string> }>(tree.ref)).files['weights.bin'];
    const rotten = randomBytes(6 * 1024 * 1024);
    await overwrite(store, store.objectKey(fileRef), rotten);
    const dest = path.join(dir, 'copy');
    await expect(store.materializeTree(tree.ref, dest)).rejects.toThrow(ArtifactCorruptError);
    await expect(store.materializeTree(tree.ref, dest)).rejects.toThrow(fileRef);
    expect(await fs.readdir(dest)).toEqual([]);
  });

  it('downloads a big artifact once per machine into the read-through cache, verified', async () => {
    const cacheDir = await tempDir('lmsi-s3-cache');
    const store = s3Store({}, { cacheDir, cacheMinBytes: 1024 });
    const dir = await tempDir('lmsi-s3-model');
    await fs.writeFile(path.join(dir, 'model.onnx'), randomBytes(64 * 1024));
    await fs.writeFile(path.join(dir, 'config.json'), '{"small":true}');
    const tree = await store.putTree(dir);
    const manifest = await store.getJson<{ files: Record<string, string> }>(tree.ref);
    await store.materializeTree(tree.ref, path.join(dir, 'first'));

    // Gone from the service: a second materialisation on this machine reads the cached copy.
    await store.client.send(
      new DeleteObjectCommand({
        Bucket: store.config.bucket,
        Key: store.objectKey(manifest.files['model.onnx']),
      }),
    );
    await store.materializeTree(tree.ref, path.join(dir, 'second'));
    expect(await sha256File(path.join(dir, 'second', 'model.onnx'))).toBe(manifest.files['model.onnx']);
    // Another store (another prefix, same machine's cache) shares it: the cache is keyed by ref.
    const other = s3Store({}, { cacheDir, cacheMinBytes: 1024 });
    expect((await other.get(manifest.files['model.onnx'])).length).toBe(64 * 1024);
    // Small artifacts are not cached.
    const hex = manifest.files['config.json'].slice('sha256:'.length);
    await expect(fs.access(path.join(cacheDir, 'objects', hex.slice(0, 2), hex.slice(2)))).rejects.toThrow();

    // A cached copy that rots is never used: it is dropped and fetched again (here: gone, so not found).
    const modelHex = manifest.files['model.onnx'].slice('sha256:'.length);
    await fs.writeFile(path.join(cacheDir, 'objects', modelHex.slice(0, 2), modelHex.slice(2)), 'rotten');
    await expect(store.materializeTree(tree.ref, path.join(dir, 'third'))).rejects.toThrow(
      ArtifactNotFoundError,
    );
  });

  it('keeps one object per draft append under the draft prefix, and removes them all', async () => {
    const store = s3Store();
    await store.appendDraft('shard-0', [{ q: 1 }]);
    await store.appendDraft('shard-0', [{ q: 2 }, { q: 3 }]);
    const parts = await keysUnder(store, store.draftKeyPrefix('shard-0'));
    expect(parts).toHaveLength(2);
    expect(parts[0]).toMatch(/\/0000000001-[0-9a-f]{8}\.jsonl$/);
    expect(parts[1]).toMatch(/\/0000000002-[0-9a-f]{8}\.jsonl$/);
    expect((await store.sealDraft('shard-0')).count).toBe(3);
    await store.removeDraft('shard-0');
    expect(await keysUnder(store, store.draftKeyPrefix('shard-0'))).toEqual([]);
  });

  it('isolates prefixes: two stores in one bucket do not see each other', async () => {
    const a = s3Store({ prefix: 'campaigns/a' });
    const ab = s3Store({ prefix: 'campaigns/ab' });
    const suffix = randomBytes(4).toString('hex');
    await a.putNamed(`idx-${suffix}/one`, { from: 'a' });
    await ab.putNamed(`idx-${suffix}/two`, { from: 'ab' });
    expect(await a.listNamed(`idx-${suffix}`)).toEqual([`idx-${suffix}/one`]);
    expect(await ab.listNamed(`idx-${suffix}`)).toEqual([`idx-${suffix}/two`]);
    expect(await a.getNamed(`idx-${suffix}/two`)).toBeUndefined();
    await a.appendDraft(`d-${suffix}`, [1]);
    expect(await ab.readDraft(`d-${suffix}`)).toEqual([]);
    const { ref } = await a.put(`only in a ${suffix}`);
    expect(await ab.has(ref)).toBe(false);
    await expect(ab.get(ref)).rejects.toThrow(ArtifactNotFoundError);
    expect(a.objectKey(ref).startsWith('campaigns/a/objects/')).toBe(true);
  });

  it('rejects refs, names and prefixes that would leave the prefix', async () => {
    const store = s3Store();
    for (const bad of ['../x', 'sha256:../x']) {
      expect(() => store.objectKey(bad)).toThrow(InvalidRefError);
      await expect(store.get(bad)).rejects.toThrow(InvalidRefError);
    }
    expect(() => store.namedKey('../x')).toThrow(InvalidRefError);
    expect(() => store.draftKeyPrefix('a/../../x')).toThrow(InvalidRefError);
    for (const prefix of ['../x', '/abs', 'a/', 'a//b', '.hidden']) {
      expect(() => s3Store({ prefix })).toThrow(/prefix is slash-separated segments/);
    }
  });

  it('takes no credentials from its config: only the AWS environment and profile chain', () => {
    const base = { bucket: 'lmsi', endpoint: 'http://127.0.0.1:1' };
    expect(S3StoreConfig.safeParse({ ...base, accessKeyId: 'x', secretAccessKey: 'y' }).success).toBe(false);
    expect(S3StoreConfig.parse(base)).toEqual({
      ...base,
      prefix: '',
      region: 'us-east-1',
      forcePathStyle: false,
      partSizeMiB: 16,
    });
  });

  it('is what createArtifactStore makes for an s3 config, and a local store for a folder', async () => {
    const dir = await tempDir('lmsi-factory');
    const local = createArtifactStore({ dir: 'artifacts' }, dir);
    expect(local).toBeInstanceOf(LocalArtifactStore);
    expect((local as LocalArtifactStore).root).toBe(path.join(dir, 'artifacts'));
    const s3 = createArtifactStore(
      {
        s3: { endpoint: server.endpoint, bucket: server.bucket, prefix: 'factory', forcePathStyle: true },
        cacheDir: 'cache',
      },
      dir,
    );
    expect(s3).toBeInstanceOf(S3ArtifactStore);
    expect((s3 as S3ArtifactStore).cacheDir).toBe(path.join(dir, 'cache'));
    const { ref } = await s3.put('through the factory');
    expect((await s3.get(ref)).toString()).toBe('through the factory');
    // The campaign config's shape: with `s3`, its `dir` is this machine's cache.
    const withDir = createArtifactStore(
      { dir: 'artifacts', s3: { bucket: server.bucket, prefix: 'factory' } },
      dir,
    );
    expect((withDir as S3ArtifactStore).cacheDir).toBe(path.join(dir, 'artifacts'));
    expect(() => createArtifactStore({}, dir)).toThrow(/give `dir`/);
  });

  it('rides through a crash and restart of the S3 server, losing nothing it acknowledged', async () => {
    // Two minutes of patience: after a restart SeaweedFS takes writes only once its filer's lock is back.
    const store = s3Store({}, { retryPatienceMs: 120_000 });
    const before = await store.put('written before the crash');
    await server.kill();
    const during = store.put('written while the server is down');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await server.resume();
    const { ref } = await during;
    expect((await store.get(ref)).toString()).toBe('written while the server is down');
    expect((await store.get(before.ref)).toString()).toBe('written before the crash');
  }, 300_000);

  it('runs a campaign whose workers share only the bucket (two machines: two caches)', async () => {
    const root = await tempDir('lmsi-s3-campaign');
    const dataDir = path.join(root, 'data');
    await writeArithSplits(dataDir, 3, { train: 0, unlabeled: 12, eval: 8 }, { minSteps: 2, maxSteps: 3 });
    const s3 = { endpoint: server.endpoint, bucket: server.bucket, prefix: 'campaign', forcePathStyle: true };
    const config = testCampaignConfig({
      name: `s3-campaign-${Date.now()}`,
      modelDir: writeRandomTinyModel(path.join(root, 'model')),
      dataDir,
      artifactsDir: path.join(root, 'unused'),
      extra: { rounds: 1, artifacts: { dir: path.join(root, 'unused'), s3 } },
    });
    const temporal = await connectTestTemporal();
    try {
      const worker = async (role: 'light' | 'accelerator', machine: string) =>
        createLmsiWorker({
          connection: temporal.nativeConnection,
          role,
          taskQueue: config.temporal.taskQueues[role],
          artifactsDir: path.join(root, machine),
          store: createArtifactStore({ dir: path.join(root, machine, 'artifacts'), s3 }),
          threads: 2,
          ...(role === 'light' ? { workflowBundle: await workflowBundle() } : {}),
        });
      const workers = [await worker('light', 'host-a'), await worker('accelerator', 'host-b')];
      const result = await withWorkers(workers, async () => {
        const handle = await startCampaign(temporal.client, config, {
          store: createArtifactStore(config.artifacts),
        });
        return handle.result();
      });
      expect(result.rounds.map((r) => r.round)).toEqual([0, 1]);
      // Everything the campaign wrote is in the bucket: a store on a third machine reads its report.
      const reader = s3Store({ prefix: 'campaign' }, { cacheDir: path.join(root, 'host-c') });
      const report = await reader.getJson<{ kind: string; campaignId: string }>(result.report!.jsonRef);
      expect(report).toMatchObject({ kind: 'lmsi.report', campaignId: config.name });
      // The campaign index (named documents) too: status and audit read it after Temporal forgets.
      const index = await readCampaignIndex(reader, config.name);
      expect(index?.rounds.map((r) => r.round)).toEqual([0, 1]);
      expect(index?.bestModelRef).toMatch(/^sha256:/);
      // A round's fine-tuned model is a tree in the bucket: materialised on the third machine.
      await reader.materializeTree(index!.bestModelRef!, path.join(root, 'host-c-model'));
      expect((await fs.readdir(path.join(root, 'host-c-model'))).length).toBeGreaterThan(0);
      await expect(fs.access(path.join(root, 'unused', 'objects'))).rejects.toThrow();
    } finally {
      await temporal.close();
    }
  }, 300_000);
});
