import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, defaultPayloadConverter, RetryState } from '@temporalio/common';
import type { Worker } from '@temporalio/worker';
import { campaignStatus, pauseCampaign, resumeCampaign, snapshotDataset, startCampaign } from '../../client';
import { loadCampaignConfig } from '../../config';
import type { CampaignConfig } from '../../config/campaign';
import { isBadInputError } from '../../base/errors';
import { createLmsiWorker } from '../../workers';
import { testCampaignConfig } from '../../testing/campaign-config';
import { runLmsi } from '../cli/process';
import {
  connectTestTemporal,
  tempDir,
  testServerAddress,
  workflowBundle,
  type TestTemporal,
} from '../helpers/temporal';
import { pretrainedTinyModel } from '../../testing/tiny-model';
import { smallSplits } from '../../testing/fault-campaign';
import { FailingStore } from './failing-store';
import { completedActivities, waitFor } from './probe';

// The bad-input corpus (tests/fixtures/bad/README.md) through real workers and workflows. Every case
// must fail once, non-retryably, naming file, line and field, and leave finished artifacts intact.
const bad = path.resolve(__dirname, '../fixtures/bad');
let temporal: TestTemporal;
let root: string;
let store: FailingStore;
let base: CampaignConfig;
let modelDir: string;
const workers: Worker[] = [];
let running: Promise<void>[] = [];

beforeAll(async () => {
  temporal = await connectTestTemporal();
  const tiny = await pretrainedTinyModel();
  modelDir = tiny.modelDir;
  root = await tempDir('bad-input');
  const dataDir = await smallSplits(tiny, path.join(root, 'data'), { unlabeled: 8, eval: 4 });
  base = testCampaignConfig({ name: 'bad', modelDir, dataDir, artifactsDir: path.join(root, 'artifacts') });
  base = { ...base, rounds: 1, sampling: { ...base.sampling, shardSize: 4 } };
  store = new FailingStore(base.artifacts.dir);
  const common = {
    connection: temporal.nativeConnection,
    artifactsDir: base.artifacts.dir,
    store,
    threads: 2,
  };
  workers.push(
    await createLmsiWorker({
      ...common,
      role: 'light',
      taskQueue: base.temporal.taskQueues.light,
      workflowBundle: await workflowBundle(),
    }),
    await createLmsiWorker({
      ...common,
      role: 'accelerator',
      taskQueue: base.temporal.taskQueues.accelerator,
    }),
  );
  running = workers.map((w) => w.run());
}, 120_000);

afterAll(async () => {
  for (const w of workers) w.shutdown();
  await Promise.all(running);
  await temporal.close();
});

afterEach(() => {
  store.fault = null;
});

let n = 0;
function campaign(patch: (c: CampaignConfig) => CampaignConfig): CampaignConfig {
  return patch({ ...base, name: `bad-${++n}-${Date.now()}` });
}

/** Every object of the store still hashes to its name (except the ones a case corrupted on purpose). */
async function storeIntact(except: string[] = []): Promise<number> {
  const objects = path.join(base.artifacts.dir, 'objects');
  let checked = 0;
  for (const dir of await fs.readdir(objects).catch(() => [] as string[])) {
    for (const file of await fs.readdir(path.join(objects, dir))) {
      const ref = `sha256:${dir}${file}`;
      if (except.includes(ref)) continue;
      const hex = createHash('sha256')
        .update(await fs.readFile(path.join(objects, dir, file)))
        .digest('hex');
      expect(`sha256:${hex}`).toBe(ref);
      checked++;
    }
  }
  return checked;
}

interface Expected {
  type: string;
  /** The message starts with this (file[:line]: field:). */
  where: string | RegExp;
}

/** Runs a campaign to its failure and checks the failure's type, message and single attempt. */
async function failsOnce(config: CampaignConfig, expected: Expected, during?: () => Promise<void>) {
  const handle = await startCampaign(temporal.client, config);
  if (during) await during();
  const err = await handle.result().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  let cause = (err as Error).cause;
  while (cause && !(cause instanceof ActivityFailure)) cause = (cause as Error).cause;
  const activity = cause as ActivityFailure;
  if (!(activity instanceof ActivityFailure))
    throw new Error(`no activity failure in ${String(err)}`, { cause: err });
  expect(activity.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
  const app = activity.cause as ApplicationFailure;
  expect(app).toBeInstanceOf(ApplicationFailure);
  expect(app.type).toBe(expected.type);
  if (typeof expected.where === 'string') expect(app.message.startsWith(expected.where)).toBe(true);
  else expect(app.message).toMatch(expected.where);
  // Attempt 1 only: no activity of the campaign or its rounds was ever retried.
  for (const id of [config.name, `${config.name}/round-0`, `${config.name}/round-1`]) {
    const attempts = await failedAttempts(id);
    for (const a of attempts) expect(a).toBe(1);
  }
  // What the user sees: `lmsi status` prints the failure, where it happened and its message.
  const shown = await runLmsi(['status', config.name, '--address', testServerAddress()], root);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(
    new RegExp(`^failed in round \\d+, step \\w+, activity ${activity.activityType} \\(workflow `, 'm'),
  );
  expect(shown.stdout).toContain(`\n  ${expected.type}: ${app.message}`);
  return app;
}

/** Attempt numbers of the failed activities of a workflow (empty when it never ran). */
async function failedAttempts(workflowId: string): Promise<number[]> {
  let history;
  try {
    history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
  } catch {
    return [];
  }
  const started = new Map<string, number>();
  const out: number[] = [];
  for (const e of history.events ?? []) {
    if (e.activityTaskStartedEventAttributes)
      started.set(String(e.eventId), e.activityTaskStartedEventAttributes.attempt ?? 0);
    if (e.activityTaskFailedEventAttributes)
      out.push(started.get(String(e.activityTaskFailedEventAttributes.startedEventId))!);
  }
  return out;
}

async function copyModel(name: string): Promise<string> {
  const dir = path.join(root, name);
  await fs.cp(modelDir, dir, { recursive: true });
  return dir;
}

describe('bad-input corpus through workflows', () => {
  it.each([
    ['malformed.jsonl', 3, '(json)'],
    ['missing-field.jsonl', 2, 'question'],
    ['duplicate-ids.jsonl', 3, 'id'],
  ])('%s: BadInput at line %i, field %s', async (file, line, field) => {
    const questions = path.join(bad, file);
    const config = campaign((c) => ({ ...c, data: { ...c.data, unlabeledQuestions: questions } }));
    await failsOnce(config, { type: 'BadInput', where: `${questions}:${line}: ${field}: ` });
    await storeIntact();
  });

  it('latin1.jsonl: a byte that is not UTF-8 is BadInput naming its line, at snapshot', async () => {
    const questions = path.join(bad, 'latin1.jsonl');
    const config = campaign((c) => ({ ...c, data: { ...c.data, unlabeledQuestions: questions } }));
    await failsOnce(config, {
      type: 'BadInput',
      where: `${questions}:2: (encoding): not valid UTF-8 (byte 0xe9 at column 34): save the file as UTF-8`,
    });
  });

  it('eval-no-label.jsonl: an evaluation question without its label is BadInput at snapshot, not after evaluating', async () => {
    const evaluation = path.join(bad, 'eval-no-label.jsonl');
    const config = campaign((c) => ({ ...c, data: { ...c.data, evaluation } }));
    await failsOnce(config, {
      type: 'BadInput',
      where: `${evaluation}:2: answer: no label: an evaluation question needs its gold answer (1 of 3 questions have none)`,
    });
    // Nothing was evaluated: the campaign never got past its snapshot.
    expect(await failedAttempts(`${config.name}/round-0`)).toEqual([]);
  });

  it('empty.jsonl: BadInput naming the file', async () => {
    const questions = path.join(bad, 'empty.jsonl');
    const config = campaign((c) => ({ ...c, data: { ...c.data, unlabeledQuestions: questions } }));
    await failsOnce(config, { type: 'BadInput', where: `${questions}: ` });
  });

  it('unknown task: BadInput naming the file and task.name, once', async () => {
    const file = path.join(root, 'data', 'eval.jsonl');
    const workflowId = `bad-task-${Date.now()}`;
    const err = await snapshotDataset(
      temporal.client,
      { task: 'riddles' as never, file },
      { taskQueue: base.temporal.taskQueues.light, workflowId },
    ).then(
      () => null,
      (e: unknown) => e,
    );
    const activity = (err as WorkflowFailedError).cause as ActivityFailure;
    expect(activity.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
    const app = activity.cause as ApplicationFailure;
    expect(app.type).toBe('BadInput');
    expect(app.message).toMatch(new RegExp(`^${file}: task\\.name: unknown task "riddles"`));
    expect(await failedAttempts(workflowId)).toEqual([1]);
  });

  it('invalid-config.json: rejected before any workflow starts, naming file, line and field', () => {
    const file = path.join(bad, 'invalid-config.json');
    let err: unknown;
    try {
      loadCampaignConfig(file);
    } catch (e) {
      err = e;
    }
    expect(isBadInputError(err)).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`^${file}:6: sampling\\.temperature: `));
  });

  it('sampling.maxNewTokens beyond any context: refused by the config loader and `lmsi config check`', async () => {
    const file = path.join(root, 'huge-max-new-tokens.json');
    await fs.writeFile(
      file,
      JSON.stringify({ ...base, name: 'huge', sampling: { ...base.sampling, maxNewTokens: 1e9 } }, null, 2),
    );
    const line = (await fs.readFile(file, 'utf8')).split('\n').findIndex((l) => l.includes('1000000000')) + 1;
    const expected = `${file}:${line}: sampling.maxNewTokens: expected number <= 131072, got 1000000000`;
    expect(() => loadCampaignConfig(file)).toThrow(expected);
    const check = await runLmsi(['config', 'check', file], root);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain(expected);
  });

  it('a truncated ONNX file: BadInput at import, naming the file', async () => {
    const dir = await copyModel('truncated-onnx');
    const onnxFile = path.join(dir, 'onnx/model.onnx');
    const bytes = await fs.readFile(onnxFile);
    await fs.writeFile(onnxFile, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const config = campaign((c) => ({ ...c, model: { ...c.model, dir } }));
    await failsOnce(config, { type: 'BadInput', where: `${onnxFile}: onnx: not a valid ONNX model` });
  });

  it('a tokenizer whose vocabulary does not match the model: BadInput at import', async () => {
    const dir = await copyModel('wrong-tokenizer');
    const file = path.join(dir, 'tokenizer.json');
    const tokenizer = JSON.parse(await fs.readFile(file, 'utf8'));
    const vocab = tokenizer.model.vocab as Record<string, number>;
    let next = Math.max(...Object.values(vocab)) + 1;
    for (let i = 0; i < 500; i++) vocab[`extra-token-${i}`] = next++;
    await fs.writeFile(file, JSON.stringify(tokenizer));
    const config = campaign((c) => ({ ...c, model: { ...c.model, dir } }));
    await failsOnce(config, { type: 'BadInput', where: `${file}: vocab: the tokenizer has` });
  });

  it('a model folder without tokenizer: BadInput at import', async () => {
    const dir = await copyModel('no-tokenizer');
    await fs.rm(path.join(dir, 'tokenizer.json'));
    const config = campaign((c) => ({ ...c, model: { ...c.model, dir } }));
    await failsOnce(config, {
      type: 'BadInput',
      where: `${path.join(dir, 'tokenizer.json')}: tokenizer.json: `,
    });
  });

  it('a NaN loss in fine-tuning: TrainingDiverged once, earlier artifacts intact', async () => {
    const config = campaign((c) => ({ ...c, training: { ...c.training, learningRate: 1e30 } }));
    const app = await failsOnce(config, {
      type: 'TrainingDiverged',
      where: /^training diverged at step \d+/,
    });
    expect(app.message).toContain('Lower the learning rate');
    // Round 0 and the sampling before the failure finished; their artifacts are intact.
    const done = await completedActivities(temporal.client, `${config.name}/round-1`);
    expect(done.filter((a) => a.type === 'samplePaths')).toHaveLength(2);
    expect(await storeIntact()).toBeGreaterThan(0);
  });

  it('a full disk mid-round: ArtifactStoreUnwritable naming the path, finished artifacts intact', async () => {
    store.fault = { code: 'ENOSPC', on: 'drafts' };
    const config = campaign((c) => c);
    await failsOnce(config, {
      type: 'ArtifactStoreUnwritable',
      where: `${path.join(base.artifacts.dir, 'drafts')}: artifacts.dir: no space left on the device (ENOSPC`,
    });
    await storeIntact();
  });

  it('a read-only artifact directory: ArtifactStoreUnwritable at the first write', async () => {
    store.fault = { code: 'EROFS', on: 'every-write' };
    const config = campaign((c) => c);
    await failsOnce(config, {
      type: 'ArtifactStoreUnwritable',
      where: `${path.join(base.artifacts.dir, 'tmp')}: artifacts.dir: read-only file system (EROFS`,
    });
    await storeIntact();
  });

  it('a corrupted artifact: ArtifactCorrupt naming the ref, the other artifacts intact', async () => {
    const config = campaign((c) => c);
    let corrupted = '';
    await failsOnce(
      config,
      { type: 'ArtifactCorrupt', where: /^artifact sha256:[0-9a-f]{64} is corrupt/ },
      async () => {
        // Paused between activities at the start of round 1, the unlabeled snapshot is overwritten.
        await waitFor(
          () => campaignStatus(temporal.client, config.name),
          (s) => s.round === 1,
          'round 1',
          // Inside jest's 120 s for this test, so a stuck campaign fails with its last status.
          100_000,
        );
        await pauseCampaign(temporal.client, config.name);
        // The round's input carries the campaign's snapshot refs.
        const history = await temporal.client.workflow.getHandle(`${config.name}/round-0`).fetchHistory();
        const started = history.events![0].workflowExecutionStartedEventAttributes!;
        const input = defaultPayloadConverter.fromPayload<{ inputs: { unlabeledRef: string } }>(
          started.input!.payloads![0],
        );
        corrupted = input.inputs.unlabeledRef;
        const hex = corrupted.slice('sha256:'.length);
        await fs.writeFile(
          path.join(base.artifacts.dir, 'objects', hex.slice(0, 2), hex.slice(2)),
          '{"id":"x"}\n',
        );
        await resumeCampaign(temporal.client, config.name);
      },
    );
    await storeIntact([corrupted]);
  });
});
