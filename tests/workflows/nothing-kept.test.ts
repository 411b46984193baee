import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { campaignStatus, startCampaign } from '../../client';
import type { CampaignReport } from '../../report';
import { LocalArtifactStore } from '../../store';
import { tooFewKept } from '../../workflows/round-rules';
import { campaignWorkers, withWorkers } from '../helpers/campaign';
import { testCampaignConfig } from '../../testing/campaign-config';
import { connectTestTemporal, tempDir, type TestTemporal } from '../helpers/temporal';
import { pretrainedTinyModel } from '../../testing/tiny-model';
import { smallSplits } from '../../testing/fault-campaign';
import { forgetAllRuns, forgetWorkflows } from './forget-workflows';

/**
 * A round that keeps nothing is not promoted (issue 19, item 4): it stops the campaign with the
 * reason, which status (from Temporal, then from the store alone) and the report show.
 */
let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  await temporal.close();
});

const stats = (kept: number, paths: number) => ({
  kept,
  paths,
  droppedBy: { disagree: paths - kept, abstain: 0 },
});

describe('tooFewKept', () => {
  const gate = { minFraction: 0, stopWhenNothingKept: true };
  it('refuses a round that kept no path, naming what dropped them and what to check', () => {
    const why = tooFewKept({ kept: 0, paths: 32, droppedBy: { disagree: 4, abstain: 28 } }, gate);
    expect(why).toBe(
      "kept 0 of 32 sampled paths (dropped: disagree 4, abstain 28): no path agreed with its question's majority answer, so there is nothing to train on and the round is not promoted; check the tokenizer (it must be the model's own) and sampling.maxNewTokens (paths cut before their answer abstain)",
    );
  });
  it('refuses a kept fraction below gate.minKeptFraction, accepts one at or above it', () => {
    const floor = { minFraction: 0.25, stopWhenNothingKept: true };
    expect(tooFewKept(stats(7, 32), floor)).toMatch(
      /^kept 7 of 32 sampled paths \(dropped: disagree 25\), 21\.9% below gate\.minKeptFraction 25\.0%/,
    );
    expect(tooFewKept(stats(8, 32), floor)).toBeNull();
    expect(tooFewKept(stats(1, 32), gate)).toBeNull();
  });
  it('lets a round that kept nothing go on only when stopWhenNothingKept is off and there is no floor', () => {
    expect(tooFewKept(stats(0, 32), { minFraction: 0, stopWhenNothingKept: false })).toBeNull();
    expect(tooFewKept(stats(0, 32), { minFraction: 0.1, stopWhenNothingKept: false })).not.toBeNull();
  });
});

describe('a campaign whose round keeps no path', () => {
  it('stops with NothingKept: status (Temporal, then the store alone) and the report say why', async () => {
    const tiny = await pretrainedTinyModel();
    const root = await tempDir('nothing-kept');
    const dataDir = await smallSplits(tiny, path.join(root, 'data'), { unlabeled: 8, eval: 4 });
    const base = testCampaignConfig({
      name: `nothing-kept-${Date.now()}`,
      modelDir: tiny.modelDir,
      dataDir,
      artifactsDir: path.join(root, 'artifacts'),
    });
    // One new token: every path is cut before "The answer is", so every path abstains.
    const config = {
      ...base,
      rounds: 2,
      sampling: { ...base.sampling, maxNewTokens: 1 },
      gate: { ...base.gate, stopWhenNothingKept: true },
    };
    const err = await withWorkers(await campaignWorkers(temporal, config), async () =>
      (await startCampaign(temporal.client, config)).result().then(
        () => null,
        (e: unknown) => e,
      ),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);

    const status = await campaignStatus(temporal.client, config.name);
    expect(status).toMatchObject({
      state: 'failed',
      round: 1,
      step: 'vote',
      failure: { type: 'NothingKept', round: 1, step: 'vote', activity: null, workflowId: config.name },
    });
    expect(status.failure!.message).toMatch(
      /^round 1: kept 0 of 32 sampled paths \(dropped: abstain 32\): no path agreed .* check the tokenizer/,
    );
    // Round 0 stands; round 1 was never recorded as a round, let alone promoted.
    expect(status.rounds.map((r) => r.round)).toEqual([0]);
    expect(status.bestModelRef).toBe(status.rounds[0].modelRef);

    // The report written before the campaign stopped says why.
    const store = new LocalArtifactStore(config.artifacts.dir);
    const report = await store.getJson<CampaignReport>(status.report!.jsonRef);
    expect(report.stopped).toEqual({ round: 1, reason: status.failure!.message });
    expect(report.rounds.map((r) => r.round)).toEqual([0]);

    // Once Temporal has forgotten the campaign, its index in the store tells the same.
    await forgetWorkflows(temporal.client, [`${config.name}/round-0`, `${config.name}/round-1`]);
    await forgetAllRuns(temporal.client, config.name);
    const archived = await campaignStatus(temporal.client, config.name, { store });
    expect(archived).toMatchObject({
      state: 'failed',
      round: 1,
      step: 'vote',
      failure: { type: 'NothingKept', round: 1, message: status.failure!.message },
      report: status.report,
    });
  });
});
