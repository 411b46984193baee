import * as path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { createLightActivities } from '../../activities';
import type { WriteReportInput } from '../../contract';
import { campaignStatus, finishedRounds, startCampaign } from '../../client';
import { writeArithSplits } from '../../method/tasks/arith';
import { auditQuestion, auditRound, buildReport } from '../../report';
import { LocalArtifactStore } from '../../store';
import { activityDeps, createLmsiWorker } from '../../workers';
import { withWorkers } from '../helpers/campaign';
import { testCampaignConfig } from '../../testing/campaign-config';
import { connectTestTemporal, tempDir, workflowBundle, type TestTemporal } from '../helpers/temporal';
import { writeRandomTinyModel } from '../../testing/tiny-model';
import { forgetAllRuns, forgetWorkflows } from './forget-workflows';

let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  await temporal.close();
});

describe('a campaign outlives the retention of its round workflows, then of its own', () => {
  it('writes its report, and status, report and audit still work, from the round records, then from the campaign index', async () => {
    const root = await tempDir('retention');
    const dataDir = path.join(root, 'data');
    await writeArithSplits(dataDir, 11, { train: 0, unlabeled: 8, eval: 8 }, { minSteps: 2, maxSteps: 2 });
    const config = testCampaignConfig({
      name: `retention-${Date.now()}`,
      modelDir: writeRandomTinyModel(path.join(root, 'model')),
      dataDir,
      artifactsDir: path.join(root, 'artifacts'),
      extra: { rounds: 1 },
    });
    const deps = { connection: temporal.nativeConnection, artifactsDir: config.artifacts.dir, threads: 2 };
    const activities = createLightActivities(activityDeps(deps));
    let forgotten: string[] = [];
    const light = await Worker.create({
      connection: temporal.nativeConnection,
      taskQueue: config.temporal.taskQueues.light,
      workflowBundle: await workflowBundle(),
      activities: {
        ...activities,
        // The campaign's last step runs after every round workflow is gone, as at the end of a
        // campaign longer than the namespace's retention; then the real report step runs.
        writeReport: async (input: WriteReportInput) => {
          forgotten = input.roundWorkflowIds;
          await forgetWorkflows(temporal.client, forgotten);
          return activities.writeReport(input);
        },
      },
    });
    const accelerator = await createLmsiWorker({
      ...deps,
      role: 'accelerator',
      taskQueue: config.temporal.taskQueues.accelerator,
    });
    const result = await withWorkers([light, accelerator], async () =>
      (await startCampaign(temporal.client, config)).result(),
    );
    expect(forgotten).toEqual([`${config.name}/round-0`, `${config.name}/round-1`]);
    for (const id of forgotten) {
      await expect(temporal.client.workflow.getHandle(id).describe()).rejects.toThrow(WorkflowNotFoundError);
    }

    // The report step read both rounds from their records.
    expect(result.reportError).toBeUndefined();
    const store = new LocalArtifactStore(config.artifacts.dir);
    const stored = await store.getJson<{ rounds: { round: number; modelOut: string }[] }>(
      result.report!.jsonRef,
    );
    expect(stored.rounds.map((r) => [r.round, r.modelOut])).toEqual(
      result.rounds.map((r) => [r.round, r.modelRef]),
    );

    // Status of the closed campaign: its own result, no round workflow and no worker needed.
    const status = await campaignStatus(temporal.client, config.name);
    expect(status).toMatchObject({ state: 'completed', round: 1, report: result.report });
    expect(status.rounds).toEqual(result.rounds);
    for (const r of status.rounds) expect(r.resultRef).toMatch(/^sha256:[0-9a-f]{64}$/);

    // Report and audit read the rounds' whole lineage from the store.
    const rounds = await finishedRounds(temporal.client, config.name, { store });
    expect(rounds.map((r) => r.summary)).toEqual(result.rounds);
    for (const r of rounds) {
      expect(r.result.modelOut).toBe(r.summary.modelRef);
      expect(r.result.evaluation.summary.scAccuracy).toBe(r.summary.scAccuracy);
    }
    const report = await buildReport({ campaignId: config.name, rounds: rounds.map((r) => r.result), store });
    expect(report.rounds.map((r) => r.round)).toEqual([0, 1]);
    const r1 = rounds[1].result;
    const audit = await auditRound(r1, { campaignId: config.name, store });
    expect(audit.lineage.votesRef).toBe(r1.vote!.votesRef);
    expect(audit.lineage.sampleShards).toHaveLength(r1.sampling!.shards.length);
    const qa = await auditQuestion(r1, 'arith-unlabeled-1', { campaignId: config.name, store });
    expect(qa.sampled?.paths).toHaveLength(4);

    // Then retention deletes the campaign workflow itself (every run of it): the campaign index in
    // the store, written by the recordRound and writeReport activities, still lists its rounds and
    // its report, and status, report and audit work from it alone.
    await forgetAllRuns(temporal.client, config.name);
    await expect(temporal.client.workflow.getHandle(config.name).describe()).rejects.toThrow(
      WorkflowNotFoundError,
    );
    expect(await campaignStatus(temporal.client, config.name, { store })).toEqual(status);
    const indexed = await finishedRounds(temporal.client, config.name, { store });
    expect(indexed).toEqual(rounds);
    const again = await buildReport({ campaignId: config.name, rounds: indexed.map((r) => r.result), store });
    expect(again.rounds.map((r) => r.round)).toEqual([0, 1]);
    const qaAgain = await auditQuestion(indexed[1].result, 'arith-unlabeled-1', {
      campaignId: config.name,
      store,
    });
    expect(qaAgain).toEqual(qa);

    // Without the index (no store, or one without it) the campaign is not found and has no rounds.
    const bare = new LocalArtifactStore(path.join(root, 'no-index'));
    await expect(campaignStatus(temporal.client, config.name)).rejects.toThrow(WorkflowNotFoundError);
    await expect(campaignStatus(temporal.client, config.name, { store: bare })).rejects.toThrow(
      WorkflowNotFoundError,
    );
    expect(await finishedRounds(temporal.client, config.name, { store: bare })).toEqual([]);
  }, 400_000);
});
