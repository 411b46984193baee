import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { campaignStatus, finishedRounds, startCampaign } from '../../client';
import { auditRound, buildReport, formatRoundAudit } from '../../report';
import { LocalArtifactStore } from '../../store';
import { campaignWorkers, withWorkers } from '../helpers/campaign';
import { testCampaignConfig } from '../../testing/campaign-config';
import { connectTestTemporal, tempDir, type TestTemporal } from '../helpers/temporal';
import { pretrainedTinyModel } from '../../testing/tiny-model';

/**
 * Issue 18 item 7 on the real dev server: a question whose prompt is longer than the model's context
 * is skipped (sampling and evaluation) and counted in the round's stats with the reason; the round
 * completes; maxNewTokens beyond what a prompt leaves of the context is clipped with a warning. Status,
 * audit and report show it.
 */

const MAX_POSITIONS = 192;

let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  await temporal.close();
});

it('a round with a prompt longer than the context completes; its stats count the skipped question', async () => {
  // The pretrained tiny model (max_position_embeddings 192, one token a character) states answers, so
  // the round keeps paths and trains; each file starts with one question no 192-position context holds.
  const base = await pretrainedTinyModel();
  const root = await tempDir('context-limits');
  const dataDir = path.join(root, 'data');
  await fs.mkdir(dataDir);
  const long = (id: string, answer?: number) =>
    JSON.stringify({
      id,
      question: `ann has 3 apples. ${'then she looks at them. '.repeat(8)}how many apples does ann have?`,
      ...(answer === undefined ? {} : { answer }),
    });
  const firstLines = async (file: string, n: number) =>
    (await fs.readFile(file, 'utf8'))
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(0, n);
  await fs.writeFile(
    path.join(dataDir, 'unlabeled.jsonl'),
    [long('long-unlabeled'), ...(await firstLines(base.data.unlabeled, 16))].join('\n') + '\n',
  );
  await fs.writeFile(
    path.join(dataDir, 'eval.jsonl'),
    [long('long-eval', 3), ...(await firstLines(base.data.eval, 8))].join('\n') + '\n',
  );
  const config = testCampaignConfig({
    name: `context-limits-${Date.now()}`,
    modelDir: base.modelDir,
    dataDir,
    artifactsDir: path.join(root, 'artifacts'),
    extra: { rounds: 1 },
  });
  const maxNewTokens = config.sampling.maxNewTokens;

  const workers = await campaignWorkers(temporal, config);
  const result = await withWorkers(workers, async () =>
    (await startCampaign(temporal.client, config)).result(),
  );
  expect(result.rounds.map((r) => r.round)).toEqual([0, 1]);

  const rounds = await finishedRounds(temporal.client, config.name, {
    store: new LocalArtifactStore(config.artifacts.dir),
  });
  const [r0, r1] = rounds.map((r) => r.result);
  const skippedIn = (shards: { skipped?: { questionId: string; promptTokens?: number }[] }[]) =>
    shards.flatMap((s) => s.skipped ?? []);
  expect(skippedIn(r1.sampling!.shards)).toEqual([
    {
      questionId: 'long-unlabeled',
      reason: 'prompt-longer-than-context',
      promptTokens: expect.any(Number),
      maxPositions: MAX_POSITIONS,
    },
  ]);
  expect(skippedIn(r1.sampling!.shards)[0].promptTokens).toBeGreaterThan(MAX_POSITIONS);
  expect(r1.sampling!.questions).toBe(16);
  expect(r1.vote!.stats.questions).toBe(16);
  expect(r1.training!.trained).toBe(true);
  // Prompts of this model's questions leave fewer than maxNewTokens positions: clipped, and said.
  const clippedIn = (shards: { clipped?: { questions: number } | null }[]) =>
    shards.reduce((n, s) => n + (s.clipped?.questions ?? 0), 0);
  expect(clippedIn(r1.sampling!.shards)).toBeGreaterThan(0);
  for (const r of [r0, r1]) {
    expect(skippedIn(r.evaluation.shards).map((s) => s.questionId)).toEqual(['long-eval']);
    expect(r.evaluation.summary.questions).toBe(8);
    expect(clippedIn(r.evaluation.shards)).toBeGreaterThan(0);
  }

  // The campaign's status carries the count and the reasons in words.
  const status = await campaignStatus(temporal.client, config.name);
  expect(status.state).toBe('completed');
  const [s0, s1] = status.rounds;
  expect(s0.skippedQuestions).toBe(1);
  expect(s1.skippedQuestions).toBe(2);
  const clip = (step: string, n: number) =>
    new RegExp(
      `^${step}: maxNewTokens ${maxNewTokens} clipped to the model's context for ${n} questions? \\(as few as \\d+ new tokens\\)$`,
    );
  expect(s1.contextWarnings).toEqual([
    expect.stringMatching(
      new RegExp(
        `^sample: 1 question skipped: prompt longer than the model's context \\(${MAX_POSITIONS} positions; longest prompt \\d+ tokens\\)$`,
      ),
    ),
    expect.stringMatching(clip('sample', clippedIn(r1.sampling!.shards))),
    expect.stringMatching(/^evaluate: 1 question skipped: prompt longer than the model's context /),
    expect.stringMatching(clip('evaluate', clippedIn(r1.evaluation.shards))),
  ]);

  // The audit and the report show them too.
  const store = new LocalArtifactStore(config.artifacts.dir);
  const audit = formatRoundAudit(await auditRound(r1, { campaignId: config.name, store }));
  expect(audit).toContain('sample: 1 question skipped: prompt longer than the model');
  expect(audit).toContain('long-unlabeled');
  const report = await buildReport({ campaignId: config.name, rounds: rounds.map((r) => r.result), store });
  expect(report.rounds[1].context).toEqual({
    skippedQuestions: 2,
    skipped: [
      { step: 'sample', questionIds: ['long-unlabeled'] },
      { step: 'evaluate', questionIds: ['long-eval'] },
    ],
    warnings: s1.contextWarnings,
  });
}, 600_000);
