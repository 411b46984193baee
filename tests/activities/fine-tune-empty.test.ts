import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { makeFineTune, makePolicyUpdate } from '../../activities/fine-tune';
import type { FineTuneInput, FineTuneResult, PolicyRecord, PolicyUpdateInput } from '../../contract';
import { LocalArtifactStore } from '../../store';
import { oneStepTraining } from '../../testing/campaign-config';

/**
 * A round with nothing to train on returns its model untrained without fetching it from the store
 * (a real model can be gigabytes): the store's folder holds the training set and no model, and
 * the store counts the trees it is asked to unpack.
 */

class CountingStore extends LocalArtifactStore {
  treesMaterialized = 0;
  override async materializeTree(ref: string, dest: string): Promise<void> {
    this.treesMaterialized++;
    return super.materializeTree(ref, dest);
  }
}

// A tree ref this store has never held: fetching it would fail.
const absentModel = `sha256:${'0'.repeat(64)}`;
const untrained: FineTuneResult = {
  modelRef: absentModel,
  trained: false,
  steps: 0,
  examples: 0,
  finalLoss: null,
  lossCurve: [],
  lossCurveRef: null,
  tokensSeen: 0,
  resumedFromStep: 0,
};

describe('training with no examples', () => {
  let dir: string;
  let store: CountingStore;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-fine-tune-empty-'));
    store = new CountingStore(path.join(dir, 'artifacts'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The model came back untrained, and nothing fetched it from the store or cached it. */
  const expectUntrainedUnfetched = (result: FineTuneResult, cacheDir: string) => {
    expect(result).toEqual(untrained);
    expect(store.treesMaterialized).toBe(0);
    expect(existsSync(path.join(cacheDir, 'models'))).toBe(false);
  };

  it.each(['auto', 'none', undefined] as const)(
    'fineTune (chatTemplate %s) returns the model untrained without fetching it',
    async (chatTemplate) => {
      const cacheDir = path.join(dir, 'cache');
      const fineTune = makeFineTune({ store, cacheDir, threads: 1 });
      const input: FineTuneInput = {
        campaignId: 'empty',
        round: 1,
        modelRef: absentModel,
        trainingSetRef: (await store.putJsonl([])).ref,
        training: oneStepTraining,
        seed: 'empty/round-1/train',
        ...(chatTemplate === undefined ? {} : { chatTemplate }),
      };
      const result = await new MockActivityEnvironment().run<
        [FineTuneInput],
        FineTuneResult,
        typeof fineTune
      >(fineTune, input);
      expectUntrainedUnfetched(result, cacheDir);
    },
  );

  it('policyUpdate with only paths that ended at once returns the model untrained without fetching it', async () => {
    const cacheDir = path.join(dir, 'cache');
    const policyUpdate = makePolicyUpdate({ store, cacheDir, threads: 1 });
    const records: PolicyRecord[] = [
      {
        questionId: 'q1',
        pathIndex: 0,
        prompt: 'Q: 1 + 1?\nA:',
        completion: '',
        answer: null,
        majority: '2',
        reward: 0,
        advantage: 0,
      },
    ];
    const input: PolicyUpdateInput = {
      campaignId: 'empty',
      round: 1,
      modelRef: absentModel,
      policySetRef: (await store.putJsonl(records)).ref,
      training: oneStepTraining,
      grpo: { clipEpsilon: 0.2, klBeta: 0, temperature: 1 },
      seed: 'empty/round-1/policy',
    };
    const result = await new MockActivityEnvironment().run<
      [PolicyUpdateInput],
      FineTuneResult,
      typeof policyUpdate
    >(policyUpdate, input);
    expectUntrainedUnfetched(result, cacheDir);
  });

  it('still fetches (and fails on) a model it needs: one example against an absent model', async () => {
    const fineTune = makeFineTune({ store, cacheDir: path.join(dir, 'cache'), threads: 1 });
    const input: FineTuneInput = {
      campaignId: 'empty',
      round: 1,
      modelRef: absentModel,
      trainingSetRef: (await store.putJsonl([{ prompt: 'Q: 1 + 1?\nA:', completion: ' 2' }])).ref,
      training: oneStepTraining,
      seed: 'empty/round-1/train',
    };
    await expect(
      new MockActivityEnvironment().run<[FineTuneInput], FineTuneResult, typeof fineTune>(fineTune, input),
    ).rejects.toThrow();
    expect(store.treesMaterialized).toBe(1);
  });
});
