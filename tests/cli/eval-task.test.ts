import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../helpers/temporal';
import { writeRandomTinyModel } from '../../testing/tiny-model';
import { runLmsi } from './process';

/**
 * `lmsi eval` with a task section (issue 18 item 6): the custom task's options from --task-options or
 * from a config's task section, on the example files (docs/campaigns.md), through the real command and
 * a real (tiny, random) model; and a question whose prompt is longer than the model's context (item 7).
 */

const root = path.resolve(__dirname, '../..');
const EXAMPLES = path.join(root, 'examples/custom');
const MC_OPTIONS = {
  questionField: 'question',
  choicesField: 'choices',
  answerField: 'answer',
  goldType: 'index0',
};

let dir: string;
let model: string;
beforeAll(async () => {
  dir = await tempDir('eval-task');
  model = writeRandomTinyModel(path.join(dir, 'model')); // max_position_embeddings 320
});

const evalArgs = (...rest: string[]) => [
  'eval',
  '--model',
  model,
  '--k',
  '2',
  '--max-new-tokens',
  '6',
  ...rest,
];

interface EvalJson {
  questions: number;
  skipped: { id: string; reason: string; promptTokens: number; maxPositions: number }[];
  greedyAccuracy: number;
  scAccuracy: number;
  k: number;
}

describe('lmsi eval with a task section', () => {
  it('--task custom --task-options: a multiple-choice JSONL with a choices list and a 0-based gold', async () => {
    const run = await runLmsi(
      evalArgs(
        '--task',
        'custom',
        '--task-options',
        JSON.stringify(MC_OPTIONS),
        '--data',
        path.join(EXAMPLES, 'multiple-choice.jsonl'),
        '--json',
      ),
      root,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as EvalJson;
    expect(out).toMatchObject({ questions: 6, skipped: [], k: 2 });
    expect(out.greedyAccuracy).toBeGreaterThanOrEqual(0);
    expect(out.greedyAccuracy).toBeLessThanOrEqual(1);
  }, 120_000);

  it('--config: the task section of a config file (numeric answers under renamed fields)', async () => {
    const config = path.join(dir, 'numeric.jsonc');
    writeFileSync(
      config,
      `{
  // only the task section is read by lmsi eval
  "task": {
    "name": "custom",
    "questionField": "problem",
    "answerField": "solution.value",
    "idField": "uid",
    "answerType": "number",
  },
}
`,
    );
    const run = await runLmsi(
      evalArgs('--config', config, '--data', path.join(EXAMPLES, 'numeric.jsonl'), '--json'),
      root,
    );
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as EvalJson).questions).toBe(6);

    const bad = path.join(dir, 'bad.jsonc');
    writeFileSync(
      bad,
      '{\n  "task": {\n    "name": "custom",\n    "questionField": "q",\n    "goldType": "index2"\n  }\n}\n',
    );
    const refused = await runLmsi(
      evalArgs('--config', bad, '--data', path.join(EXAMPLES, 'numeric.jsonl')),
      root,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(`^lmsi: ${bad}:5: task\\.goldType: expected one of "auto" \\| `),
    );
  }, 120_000);

  it('a question whose prompt is longer than the model context is skipped and listed, the rest evaluated', async () => {
    const data = path.join(dir, 'long.jsonl');
    const lines = [
      { question: 'Which is a fruit?', choices: ['apple', 'stone'], answer: 0 },
      { question: `Which is a fruit? ${'very '.repeat(80)}long`, choices: ['apple', 'stone'], answer: 0 },
      { question: 'Which is a colour?', choices: ['spoon', 'blue'], answer: 1 },
    ];
    writeFileSync(data, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const run = await runLmsi(
      evalArgs('--task', 'custom', '--task-options', JSON.stringify(MC_OPTIONS), '--data', data, '--json'),
      root,
    );
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as EvalJson;
    expect(out.questions).toBe(2);
    expect(out.skipped).toEqual([
      {
        id: 'long.jsonl:2',
        reason: 'prompt-longer-than-context',
        promptTokens: expect.any(Number),
        maxPositions: 320,
      },
    ]);
    expect(out.skipped[0].promptTokens).toBeGreaterThan(320);
    expect(run.stderr).toMatch(
      /^warning: question long\.jsonl:2 skipped: its prompt has \d+ tokens, the model's context 320 positions$/m,
    );
  }, 120_000);

  it('bad task options and bad lines fail with exit 1 naming where; a missing task is a usage error (2)', async () => {
    const mc = path.join(EXAMPLES, 'multiple-choice.jsonl');
    const badJson = await runLmsi(
      evalArgs('--task', 'custom', '--task-options', '{questionField', '--data', mc),
      root,
    );
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toMatch(/^lmsi: --task-options: \(json\): not valid JSON: /);

    const badType = await runLmsi(
      evalArgs('--task', 'custom', '--task-options', '{"questionField": 3}', '--data', mc),
      root,
    );
    expect(badType.code).toBe(1);
    expect(badType.stderr).toMatch(/^lmsi: --task-options: questionField: /);

    const unknownKey = await runLmsi(
      evalArgs('--task', 'custom', '--task-options', '{"questionField": "q", "choices": "c"}', '--data', mc),
      root,
    );
    expect(unknownKey.code).toBe(1);
    expect(unknownKey.stderr).toMatch(/^lmsi: --task-options: \(record\): .*"choices"/);

    // index1 reads the file's 0 as out of range: the loader names file, line and field.
    const outOfRange = await runLmsi(
      evalArgs(
        '--task',
        'custom',
        '--task-options',
        JSON.stringify({ ...MC_OPTIONS, goldType: 'index1' }),
        '--data',
        mc,
      ),
      root,
    );
    expect(outOfRange.code).toBe(1);
    expect(outOfRange.stderr).toBe(
      `lmsi: ${mc}:4: answer: index 0 is out of range for 4 choices (1-based: 1-4)\n`,
    );

    const noTask = await runLmsi(evalArgs('--data', mc), root);
    expect(noTask.code).toBe(2);
    expect(noTask.stderr).toMatch(/give --task <name> or --config <file>/);
  }, 180_000);
});
