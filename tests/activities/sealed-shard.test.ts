import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { makeSamplePaths, shardDraftName } from '../../activities/sample-shard';
import type { ShardInput, ShardResult } from '../../contract';
import type { Question } from '../../method/types';
import { LocalArtifactStore } from '../../store';
import { writeRandomTinyModel } from '../../testing/tiny-model';

/**
 * A sampling shard whose completion was lost (the Temporal server down as it finished: issue 19,
 * item 7) is retried with the last heartbeat saying every question is done while its draft is gone.
 * The retry returns the sealed result from the store instead of failing or sampling again.
 */
describe('a sealed shard whose completion was lost', () => {
  let dir: string;
  let store: LocalArtifactStore;
  let input: ShardInput;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-sealed-shard-'));
    store = new LocalArtifactStore(path.join(dir, 'artifacts'));
    const questions: Question[] = [1, 2].map((i) => ({
      id: `q${i}`,
      text: `Tom has ${i} apples and buys 2 more. How many?`,
      gold: null,
      source: { file: 'q.jsonl', line: i },
    }));
    input = {
      campaignId: 'sealed',
      round: 1,
      shard: 0,
      datasetRef: (await store.putJsonl(questions)).ref,
      start: 0,
      end: 2,
      modelRef: (await store.putTree(writeRandomTinyModel(path.join(dir, 'model')))).ref,
      task: { name: 'gsm8k' },
      prompt: 'zero-shot-cot',
      exemplarsRef: null,
      sampling: { m: 2, temperature: 0.7, topK: 0, topP: 1, maxNewTokens: 4, stop: ['\n\n'] },
      seed: 'sealed/round-1/sample',
      executionProvider: 'cpu',
      allowCpuFallback: false,
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the retry returns the stored result, with no draft left and nothing sampled again', async () => {
    const samplePaths = makeSamplePaths({ store, cacheDir: path.join(dir, 'cache'), threads: 1 });
    const run = (env: MockActivityEnvironment) =>
      env.run<[ShardInput], ShardResult, typeof samplePaths>(samplePaths, input);
    const first = await run(new MockActivityEnvironment());
    expect(first.questions).toBe(2);
    expect(await store.readDraft(shardDraftName('sample', input))).toEqual([]);

    // The lost completion's retry: attempt 2, the last heartbeat said both questions were done.
    const retry = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { done: 2 } });
    const heartbeats: unknown[] = [];
    retry.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const again = await run(retry);
    expect(again).toEqual(first);
    // Returned before touching the draft or the model: not one question re-sampled.
    expect(heartbeats).toEqual([]);
  });
});
