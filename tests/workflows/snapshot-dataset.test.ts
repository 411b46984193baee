import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { snapshotDataset } from '../../client';
import type { Question } from '../../method/types';
import { LocalArtifactStore } from '../../store';
import { createLmsiWorker } from '../../workers';
import { connectTestTemporal, tempDir, workflowBundle, type TestTemporal } from '../helpers/temporal';
import { uniqueTaskQueue } from '../../testing/campaign-config';

const root = path.resolve(__dirname, '../..');
const gsm8kTest = path.resolve(root, '../shared/data/gsm8k/test.jsonl');

let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  await temporal.close();
});

async function withWorker<T>(artifactsDir: string, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = uniqueTaskQueue('snapshot');
  const worker = await createLmsiWorker({
    connection: temporal.nativeConnection,
    role: 'light',
    taskQueue,
    artifactsDir,
    workflowBundle: await workflowBundle(),
  });
  return worker.runUntil(fn(taskQueue));
}

describe('snapshotDataset workflow (real dev server, real worker)', () => {
  it('copies a real questions file into the artifact store and returns its ref and count', async () => {
    const artifactsDir = await tempDir('artifacts');
    const workflowId = `snapshot-gsm8k-test-${Date.now()}`;
    const result = await withWorker(artifactsDir, (taskQueue) =>
      snapshotDataset(temporal.client, { task: 'gsm8k', file: gsm8kTest }, { taskQueue, workflowId }),
    );
    expect(result.count).toBe(1319);
    expect(result.badLines).toBe(0);
    expect(result.ref).toMatch(/^sha256:[0-9a-f]{64}$/);

    const store = new LocalArtifactStore(artifactsDir);
    const questions: Question[] = [];
    for await (const q of store.readJsonl<Question>(result.ref)) questions.push(q);
    expect(questions).toHaveLength(1319);
    expect(questions[0].text).toContain('Janet');
    expect(questions[0].source).toEqual({ file: gsm8kTest, line: 1 });

    // The history carries the ref and the count, never the questions.
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const json = historyToJSON(history);
    expect(json.length).toBeLessThan(20_000);
    expect(json).not.toContain('Janet');
    if (process.env.LMSI_RECORD_HISTORIES === '1') {
      // Re-record after an intended workflow change: LMSI_RECORD_HISTORIES=1 npx jest tests/workflows
      await fs.writeFile(path.join(root, 'tests/histories/snapshot-dataset.json'), json);
    }
  });

  it('fails a malformed file once, non-retryably, naming file, line and field', async () => {
    const artifactsDir = await tempDir('artifacts');
    const dir = await tempDir('bad');
    const file = path.join(dir, 'questions.jsonl');
    await fs.writeFile(
      file,
      '{"question": "What is 2+2?", "answer": "#### 4"}\n{"question": "Oops", "answer": 5}\n',
    );
    const err = await withWorker(artifactsDir, (taskQueue) =>
      snapshotDataset(
        temporal.client,
        { task: 'gsm8k', file },
        { taskQueue, workflowId: `snapshot-bad-${Date.now()}` },
      ).then(
        () => {
          throw new Error('expected the workflow to fail');
        },
        (e: unknown) => e,
      ),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activity = (err as WorkflowFailedError).cause as ActivityFailure;
    expect(activity).toBeInstanceOf(ActivityFailure);
    expect(activity.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
    const app = activity.cause as ApplicationFailure;
    expect(app.type).toBe('BadInput');
    expect(app.nonRetryable).toBe(true);
    expect(app.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: answer: `));
  });
});
