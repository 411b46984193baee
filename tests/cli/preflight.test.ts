import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { preflightCampaign } from '../../client/preflight';
import { isBadInputError } from '../../base/errors';
import { testCampaignConfig } from '../../testing/campaign-config';
import { hfModelDir } from '../engine/hf/fixtures';
import { runLmsi } from './process';

/**
 * The campaign's preflight, where `lmsi run` and `lmsi config check` run: the base model's check and
 * the prompts, rendered as the rounds render them (here with qwen2's ChatML template), against its
 * context (128 positions). Some too long: a warning (they are skipped and counted); all: refused.
 */

const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-preflight-'));
const line = (id: string, question: string) => JSON.stringify({ id, question, answer: '#### 1' });
const long = 'How many apples are there after all of this happens to the farmer? '.repeat(20);
const write = (name: string, lines: string[]) => {
  const file = path.join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
};
const short = write('short.jsonl', [line('a', 'What is 1 + 1?'), line('b', 'What is 2 + 2?')]);
const mixed = write('mixed.jsonl', [line('a', 'What is 1 + 1?'), line('long', long)]);
const allLong = write('long.jsonl', [line('x', long), line('y', long)]);

const config = (unlabeled: string, evaluation: string) =>
  testCampaignConfig({
    name: 'preflight',
    modelDir: hfModelDir('qwen2'),
    dataDir: dir,
    artifactsDir: path.join(dir, 'artifacts'),
    extra: {
      task: { name: 'gsm8k' },
      data: { unlabeledQuestions: unlabeled, evaluation },
      sampling: { maxNewTokens: 32, prompt: 'zero-shot-cot' },
    },
  });

test('prompts within the context: no warning, the lengths reported', async () => {
  const p = (await preflightCampaign(config(short, short)))!;
  expect(p.model).toMatchObject({ family: 'qwen2', contextLength: 128 });
  expect(p.files.map((f) => f.questions)).toEqual([2, 2]);
  expect(p.files[0].longest).toBeGreaterThan(5);
  expect(p.warnings).toEqual([]);
});

test('some prompts longer than the context: a warning naming the file and the count', async () => {
  const p = (await preflightCampaign(config(mixed, short)))!;
  expect(p.files[0]).toMatchObject({ questions: 2, tooLong: 1 });
  expect(p.warnings[0]).toContain(
    `${mixed}: 1 of 2 questions have a zero-shot-cot prompt longer than the model's context`,
  );
});

test('every prompt longer than the context: refused before any workflow, naming the file', async () => {
  let err: unknown;
  try {
    await preflightCampaign(config(allLong, short));
  } catch (e) {
    err = e;
  }
  expect(isBadInputError(err)).toBe(true);
  expect((err as Error).message).toMatch(new RegExp(`^${allLong}: \\(questions\\): every question's`));
});

test('lmsi config check runs it and prints the model and the prompt lengths', async () => {
  const file = path.join(dir, 'campaign.json');
  const c = config(mixed, short);
  writeFileSync(
    file,
    JSON.stringify({
      name: c.name,
      model: { dir: c.model.dir },
      task: { name: 'gsm8k' },
      data: { unlabeledQuestions: mixed, evaluation: short },
      training: { steps: 1 },
    }),
  );
  const run = await runLmsi(['config', 'check', file], dir);
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('Qwen2ForCausalLM (qwen2)');
  expect(run.stdout).toMatch(/prompts \(zero-shot-cot\): .*mixed\.jsonl: 2 questions, longest \d+ tokens/);
  expect(run.stderr).toContain('warning: ');
});
