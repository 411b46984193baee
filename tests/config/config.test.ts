import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { campaignConfigJsonSchema, ConfigError, loadCampaignConfig, parseCampaignConfig } from '../../config';
import { isBadInputError } from '../../base/errors';

const root = path.resolve(__dirname, '../..');
const minimal = {
  name: 'c1',
  model: { dir: 'm' },
  task: { name: 'arith' },
  data: { unlabeledQuestions: 'u.jsonl', evaluation: 'e.jsonl' },
  training: { steps: 10 },
};

function problems(config: unknown): string[] {
  try {
    parseCampaignConfig(JSON.stringify(config, null, 2), 'c.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message.split('\n');
  }
  throw new Error('expected the config to be rejected');
}

describe('campaign config', () => {
  it('fills the paper defaults', () => {
    const c = parseCampaignConfig(JSON.stringify(minimal));
    expect(c.sampling.m).toBe(32);
    expect(c.sampling.temperature).toBe(0.7);
    expect(c.formats).toEqual(['few-shot-cot', 'few-shot-direct', 'zero-shot-cot', 'zero-shot-direct']);
    expect(c.temporal.taskQueues).toEqual({ light: 'lmsi-light', accelerator: 'lmsi-accelerator' });
    expect(c.rounds).toBe(3);
  });

  it('names the key path, the line, the expected type and the value given', () => {
    expect(problems({ ...minimal, sampling: { temperature: 'hot' } })).toEqual([
      'c.json:17: sampling.temperature: expected number, got string "hot"',
    ]);
    expect(problems({ ...minimal, sampling: { m: 0 } })).toEqual([
      'c.json:17: sampling.m: expected number >= 1, got 0',
    ]);
    expect(problems({ ...minimal, task: { name: 'gsm9k' } })).toEqual([
      'c.json:7: task.name: expected one of "gsm8k" | "drop" | "openbookqa" | "arc" | "anli" | "arith" | "custom", got "gsm9k"',
    ]);
    const { model: _model, ...noModel } = minimal;
    expect(problems(noModel)).toEqual(['c.json: model: expected object, got nothing (the key is missing)']);
  });

  it('rejects unknown keys, repeated formats and ambiguous training length', () => {
    expect(problems({ ...minimal, sampling: { tempreature: 0.5 } })).toEqual([
      'c.json:17: sampling.tempreature: expected a known key (unknown keys are rejected), got unknown key "tempreature"',
    ]);
    expect(problems({ ...minimal, formats: ['zero-shot-cot', 'zero-shot-cot'] })[0]).toMatch(
      /^c\.json:\d+: formats: expected formats must not repeat/,
    );
    expect(problems({ ...minimal, training: { steps: 10, epochs: 2 } })[0]).toMatch(
      /training: expected set exactly one of training.epochs and training.steps/,
    );
  });

  it('checks per-round training settings: round numbers from 1, at most one of epochs and steps', () => {
    const c = parseCampaignConfig(
      JSON.stringify({
        ...minimal,
        training: { epochs: 3, fromRound: { 2: { epochs: 1, learningRate: 1e-4 } } },
      }),
    );
    expect(c.training.fromRound).toEqual({ 2: { epochs: 1, learningRate: 1e-4 } });
    expect(problems({ ...minimal, training: { steps: 10, fromRound: { 0: { epochs: 1 } } } })[0]).toMatch(
      /^c\.json:\d+: training\.fromRound\.0: expected a key that is a round number from 1, got "0"$/,
    );
    expect(
      problems({ ...minimal, training: { steps: 10, fromRound: { 2: { epochs: 1, steps: 5 } } } })[0],
    ).toMatch(/training\.fromRound\.2: expected set at most one of epochs and steps/);
    expect(problems({ ...minimal, training: { steps: 10, fromRound: { 2: { batchSize: 4 } } } })[0]).toMatch(
      /training\.fromRound\.2\.batchSize: expected a known key/,
    );
  });

  it('reports JSON syntax errors by line and is a BadInputError', () => {
    try {
      parseCampaignConfig('{\n  "name": "x",\n  "model": \n}', 'broken.json');
      throw new Error('not rejected');
    } catch (e) {
      expect(isBadInputError(e)).toBe(true);
      expect((e as Error).message).toBe('broken.json:4: (syntax): expected valid JSON, got ValueExpected');
    }
  });

  it('accepts the commented example config in the repo', () => {
    const c = loadCampaignConfig(path.join(root, 'lmsi.config.example.jsonc'));
    expect(c.task.name).toBe('gsm8k');
  });

  it('keeps the committed JSON Schema equal to the generated one', () => {
    const committed = JSON.parse(readFileSync(path.join(root, 'lmsi.config.schema.json'), 'utf8'));
    expect(committed).toEqual(campaignConfigJsonSchema());
  });

  it('`lmsi config check` prints the key path and expected type and exits non-zero', () => {
    const tsx = path.join(root, 'node_modules/.bin/tsx');
    const bad = spawnSync(tsx, ['cli/main.ts', 'config', 'check', 'tests/fixtures/config/wrong-type.json'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain(
      'tests/fixtures/config/wrong-type.json:6: sampling.temperature: expected number, got string "hot"',
    );
    const good = spawnSync(tsx, ['cli/main.ts', 'config', 'check', 'lmsi.config.example.jsonc'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(good.stderr).toBe('');
    expect(good.status).toBe(0);
  });
});
