import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createBaseModel } from '../engine/checkpoint';
import type { LlamaConfig } from '../engine/model';
import { fineTune, type FineTuneConfigInput, type FineTuneProgress } from '../engine/train';
import {
  arith,
  generateArithSplits,
  writeArithSplits,
  type ArithKnobs,
  type ArithSplitSizes,
} from '../method/tasks/arith';
import type { Question } from '../method/types';
import { seedExamples } from './seed-examples';

/**
 * A recipe for a base model that reasons (a little) about arith word problems: the labeled seed split
 * as zero-shot CoT and zero-shot direct examples, a model trained on them from scratch. The rounds
 * then improve it on the unlabeled split without labels. Built once per recipe and cached.
 */
export interface ArithRecipe {
  /** Names the cache folder; change it when anything below changes. */
  name: string;
  seed: number;
  sizes: ArithSplitSizes;
  knobs: Partial<ArithKnobs>;
  /**
   * Further labeled seed problems drawn with other knobs (easier ones: "easy to hard"), appended to
   * the train split; the unlabeled and evaluation splits keep `knobs` only.
   */
  extraTrain?: { count: number; knobs: Partial<ArithKnobs> }[];
  /** Fraction of seed questions that also get a zero-shot direct example (default 1). */
  directFraction?: number;
  model: Partial<LlamaConfig>;
  training: Omit<FineTuneConfigInput, 'seed'>;
}

export interface ArithBaseModel {
  dir: string;
  modelDir: string;
  /** `exemplars`: one labeled seed problem as a few-shot exemplar (for the few-shot formats). */
  data: { train: string; unlabeled: string; eval: string; seedExamples: string; exemplars: string };
}

export async function buildArithBaseModel(
  cacheRoot: string,
  recipe: ArithRecipe,
  onProgress?: (p: FineTuneProgress) => void,
): Promise<ArithBaseModel> {
  const dir = path.join(cacheRoot, recipe.name);
  const result: ArithBaseModel = {
    dir,
    modelDir: path.join(dir, 'model'),
    data: {
      train: path.join(dir, 'data', 'train.jsonl'),
      unlabeled: path.join(dir, 'data', 'unlabeled.jsonl'),
      eval: path.join(dir, 'data', 'eval.jsonl'),
      seedExamples: path.join(dir, 'data', 'seed-examples.jsonl'),
      exemplars: path.join(dir, 'data', 'exemplars.jsonl'),
    },
  };
  if (existsSync(path.join(dir, '.complete'))) return result;

  // Built in a temp folder and renamed: a cache entry is complete or absent.
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const files = await writeArithSplits(path.join(tmp, 'data'), recipe.seed, recipe.sizes, recipe.knobs);
  if (recipe.extraTrain?.length) await appendExtraTrain(files, recipe);
  const { questions } = await arith.loadQuestions(files.train);
  const examples = seedExamples(arith, questions, { directFraction: recipe.directFraction });
  await writeFile(
    path.join(tmp, 'data', 'seed-examples.jsonl'),
    examples.map((e) => `${JSON.stringify(e)}\n`).join(''),
  );
  await writeFile(
    path.join(tmp, 'data', 'exemplars.jsonl'),
    `${JSON.stringify(shortestExemplar(questions))}\n`,
  );
  const init = createBaseModel({ config: recipe.model, seed: recipe.seed, dir: path.join(tmp, 'init') });
  const trained = await fineTune({
    from: init,
    outDir: path.join(tmp, 'run'),
    examples,
    config: { ...recipe.training, seed: `${recipe.name}/base` },
    onProgress,
  });
  await rename(trained.checkpointDir, path.join(tmp, 'model'));
  await rm(path.join(tmp, 'run'), { recursive: true, force: true });
  await rm(path.join(tmp, 'init'), { recursive: true, force: true });
  await writeFile(
    path.join(tmp, 'base-model.json'),
    JSON.stringify(
      {
        recipe,
        steps: trained.steps,
        finalLoss: trained.finalLoss,
        tokensSeen: trained.tokensSeen,
        seconds: trained.seconds,
      },
      null,
      2,
    ),
  );
  await writeFile(path.join(tmp, '.complete'), '');
  try {
    await rename(tmp, dir);
  } catch {
    // Another process built the same recipe first.
    await rm(tmp, { recursive: true, force: true });
  }
  return result;
}

/**
 * Appends the recipe's extra seed problems to the train file, dropping any whose question text is
 * already in a split, so the splits stay disjoint by question text.
 */
async function appendExtraTrain(files: Record<'train' | 'unlabeled' | 'eval', string>, recipe: ArithRecipe) {
  const taken = new Set<string>();
  for (const f of Object.values(files))
    for (const line of (await readFile(f, 'utf8')).split('\n'))
      if (line.trim()) taken.add((JSON.parse(line) as { question: string }).question);
  const lines: string[] = [];
  (recipe.extraTrain ?? []).forEach((extra, i) => {
    const { train } = generateArithSplits(
      `${recipe.seed}/extra-${i}`,
      { train: extra.count, unlabeled: 0, eval: 0 },
      extra.knobs,
    );
    for (const r of train) {
      if (taken.has(r.question)) continue;
      taken.add(r.question);
      lines.push(JSON.stringify({ ...r, id: `${r.id}-extra-${i}` }));
    }
  });
  await appendFile(files.train, lines.map((l) => `${l}\n`).join(''));
}

/**
 * The shortest seed problem as the few-shot formats' one exemplar: the embedded model's context holds
 * one exemplar and a question, not the paper's eight.
 */
function shortestExemplar(questions: readonly Question[]): {
  question: string;
  rationale: string;
  answer: string;
} {
  const q = questions.reduce((a, b) =>
    b.text.length + (b.rationale?.length ?? 0) < a.text.length + (a.rationale?.length ?? 0) ? b : a,
  );
  return { question: q.text, rationale: q.rationale ?? '', answer: q.gold?.[0] ?? '' };
}
