import * as path from 'node:path';
import { campaignStatus, finishedRounds, startCampaign } from '../../client';
import { statusTable } from '../../cli/status-view';
import { auditRound, formatRoundAudit, type CampaignReport } from '../../report';
import { reportCharts } from '../../report/charts';
import { LocalArtifactStore } from '../../store';
import { campaignWorkers, withWorkers } from '../helpers/campaign';
import { testCampaignConfig } from '../../testing/campaign-config';
import { connectTestTemporal, tempDir, type TestTemporal } from '../helpers/temporal';
import { pretrainedTinyModel } from '../../testing/tiny-model';
import { smallSplits } from '../../testing/fault-campaign';

/**
 * Issue 23, items 4 and 5: every round records the label-free health of its samples, and
 * gate.labelFree stops a campaign whose model collapses — here forced by a learning rate far too
 * high for the tiny model — keeping the best earlier round's model, with the reason in the status
 * and the report.
 */
let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  await temporal.close();
});

describe('gate.labelFree on a forced collapse', () => {
  it('stops after the collapsed round, keeps the base model, and says why everywhere', async () => {
    const tiny = await pretrainedTinyModel();
    const root = await tempDir('label-free-gate');
    const dataDir = await smallSplits(tiny, path.join(root, 'data'), { unlabeled: 16, eval: 8 });
    const base = testCampaignConfig({
      name: `label-free-gate-${Date.now()}`,
      modelDir: tiny.modelDir,
      dataDir,
      artifactsDir: path.join(root, 'artifacts'),
    });
    const config = {
      ...base,
      rounds: 3,
      training: { ...base.training, steps: 6, learningRate: 0.3 },
      gate: { ...base.gate, labelFree: { saturatedMajorityShare: 0.9, maxMedianLengthFactor: 1.5 } },
    };
    const result = await withWorkers(await campaignWorkers(temporal, config), async () =>
      (await startCampaign(temporal.client, config)).result(),
    );

    // Round 1's model collapsed: not promoted, no round 2, the base model stands.
    expect(result.rounds.map((r) => r.round)).toEqual([0, 1]);
    expect(result.stopped?.round).toBe(1);
    expect(result.stopped?.reason).toMatch(
      /^label-free collapse: the median path length moved from \d+ to \d+ tokens/,
    );
    expect(result.rounds[1].promoted).toBe(false);
    expect(result.bestModelRef).toBe(result.rounds[0].modelRef);

    // Health: round 0 evaluated the base model only; round 1 has its samples' and its model's.
    const [h0, h1] = result.rounds.map((r) => r.health!);
    expect(h0.sampled).toBeNull();
    expect(h0.evaluated).toMatchObject({ questions: 8, paths: 32, agreementWithPrevious: null });
    expect(h1.sampled).toMatchObject({ questions: 16, paths: 64, agreementWithPrevious: null });
    expect(h1.evaluated).toMatchObject({ questions: 8, paths: 32, questionsComparedWithPrevious: 8 });
    const factor = h1.evaluated!.medianPathTokens / h0.evaluated!.medianPathTokens;
    expect(factor > 1.5 || factor < 1 / 1.5).toBe(true);

    const status = await campaignStatus(temporal.client, config.name);
    expect(status.state).toBe('completed');
    expect(status.stopped).toEqual(result.stopped);
    const table = statusTable(status);
    expect(table).toContain(`stopped after round 1: ${result.stopped!.reason}`);
    expect(table).toMatch(/label-free health/);
    expect(table).toMatch(/^1 +evaluated /m);

    const store = new LocalArtifactStore(config.artifacts.dir);
    const report = await store.getJson<CampaignReport>(result.report!.jsonRef);
    expect(report.stopped).toEqual(result.stopped);
    expect(report.currentModel?.round).toBe(0);
    expect(report.rounds[1].gate).toMatchObject({ promoted: false, collapse: result.stopped!.reason });
    const charts = reportCharts(report).filter((c) => c.id.startsWith('health-'));
    expect(charts.map((c) => c.id)).toEqual([
      'health-majority-share',
      'health-answer-entropy',
      'health-abstention',
      'health-path-length',
      'health-distinct-rationales',
      'health-agreement',
    ]);
    // Every signal but the agreement has points for both rounds' evaluated models.
    for (const c of charts.slice(0, 5)) expect(c.spec).not.toBeNull();

    const [, round1] = await finishedRounds(temporal.client, config.name, { store });
    const audit = formatRoundAudit(await auditRound(round1.result, { campaignId: config.name, store }));
    expect(audit).toMatch(
      /label-free health\n {2}sampled paths \(unlabeled questions\): 16 questions, 64 paths/,
    );
    expect(audit).toContain(`NOT promoted: ${result.stopped!.reason}`);
  });
});
