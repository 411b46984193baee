import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { createLightActivities } from '../../activities';
import { campaignStatus, startCampaign } from '../../client';
import { writeArithSplits } from '../../method/tasks/arith';
import { activityDeps, createLmsiWorker } from '../../workers';
import { withWorkers } from '../helpers/campaign';
import { testCampaignConfig } from '../../testing/campaign-config';
import { connectTestTemporal, tempDir, workflowBundle, type TestTemporal } from '../helpers/temporal';
import { writeRandomTinyModel } from '../../testing/tiny-model';

let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  await temporal.close();
});

describe("the campaign's report step", () => {
  it('a report that fails for good is recorded and the campaign still completes with its rounds', async () => {
    const root = await tempDir('report-step');
    const dataDir = path.join(root, 'data');
    await writeArithSplits(dataDir, 5, { train: 0, unlabeled: 8, eval: 8 }, { minSteps: 2, maxSteps: 2 });
    const config = testCampaignConfig({
      name: `report-step-${Date.now()}`,
      modelDir: writeRandomTinyModel(path.join(root, 'model')),
      dataDir,
      artifactsDir: path.join(root, 'artifacts'),
      extra: { rounds: 1 },
    });
    const deps = { connection: temporal.nativeConnection, artifactsDir: config.artifacts.dir, threads: 2 };
    const light = await Worker.create({
      connection: temporal.nativeConnection,
      taskQueue: config.temporal.taskQueues.light,
      workflowBundle: await workflowBundle(),
      activities: {
        ...createLightActivities(activityDeps(deps)),
        writeReport: async () => {
          throw ApplicationFailure.create({
            type: 'ArtifactCorrupt',
            nonRetryable: true,
            message: 'sha256:00: loss curve: corrupt',
          });
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
    expect(result.rounds.map((r) => r.round)).toEqual([0, 1]);
    expect(result.report).toBeUndefined();
    expect(result.reportError).toBe('sha256:00: loss curve: corrupt');
    expect((await campaignStatus(temporal.client, config.name)).state).toBe('completed');
  });
});
