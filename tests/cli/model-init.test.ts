import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { initModel } from '../../cli/model-init-command';
import { MODEL_RECIPES, TINY_RECIPE } from '../../embedded';
import { resolveConfigPaths } from '../../client';
import { loadCampaignConfig } from '../../config';
import { tempDir } from '../helpers/temporal';
import { runLmsi } from './process';

const root = path.resolve(__dirname, '../..');

describe('lmsi model init', () => {
  it('builds a recipe into one folder: model, data splits, base-model.json, nothing left beside it', async () => {
    const parent = await tempDir('model-init');
    const out = path.join(parent, 'micro');
    const micro = {
      ...MODEL_RECIPES.tiny.recipe,
      name: 'micro',
      sizes: { train: 12, unlabeled: 4, eval: 3 },
      model: { dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 32, maxSeqLen: 128 },
      training: { steps: 2, batchSize: 4, learningRate: 1e-3, checkpointEvery: 1000 },
    };
    expect(await initModel(micro, out)).toBe('built');
    expect(await fs.readdir(parent)).toEqual(['micro']);
    for (const file of [
      'model/onnx/model.onnx',
      'model/tokenizer.json',
      'model/config.json',
      'data/unlabeled.jsonl',
      'data/eval.jsonl',
      'data/train.jsonl',
      'base-model.json',
    ]) {
      await expect(fs.stat(path.join(out, file))).resolves.toBeTruthy();
    }
    const lines = (f: string) =>
      fs.readFile(path.join(out, 'data', f), 'utf8').then((t) => t.trim().split('\n'));
    expect(await lines('unlabeled.jsonl')).toHaveLength(4);
    expect(await lines('eval.jsonl')).toHaveLength(3);
    // A finished build is kept as it is.
    expect(await initModel(micro, out)).toBe('exists');
  });

  it('refuses to build over a folder that is not a finished build', async () => {
    const out = await tempDir('model-init-taken');
    await fs.writeFile(path.join(out, 'notes.txt'), 'mine');
    await expect(initModel(MODEL_RECIPES.tiny.recipe, out)).rejects.toThrow(/not a finished model build/);
    expect(await fs.readdir(out)).toEqual(['notes.txt']);
  });

  it('an unknown recipe is a usage error (exit 2)', async () => {
    const run = await runLmsi(
      ['model', 'init', '--recipe', 'huge', '--out', 'x'],
      await tempDir('model-init-cli'),
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown recipe; one of tiny, quick, demo');
  });

  it('the tiny recipe is the model the campaign tests run on, laid out where examples/tiny.config.json looks', () => {
    // testing/tiny-model.ts builds TINY_RECIPE for the campaign tests.
    expect(MODEL_RECIPES.tiny.recipe).toBe(TINY_RECIPE);
    const file = path.join(root, 'examples/tiny.config.json');
    const config = resolveConfigPaths(loadCampaignConfig(file), file);
    const built = path.join(root, '.state/models/tiny');
    expect(config.model.dir).toBe(path.join(built, 'model'));
    expect(config.data.unlabeledQuestions).toBe(path.join(built, 'data/unlabeled.jsonl'));
    expect(config.data.evaluation).toBe(path.join(built, 'data/eval.jsonl'));
    expect(config.artifacts.dir).toBe(path.join(root, '.state/artifacts'));
    expect(config.rounds).toBe(2);
  });
});
