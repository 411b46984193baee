/**
 * npm run bench:round-sweep -- '{"tag":"cap8","minConfidence":0.7,"maxPerQuestion":8}' ['{...}' ...]
 *
 * One self-improvement round on the demo's base model, run directly on the engine and method
 * functions the activities call (no Temporal), with gold answers for the unlabeled pool kept beside
 * it: it measures what the workflows cannot (the rounds read no label), namely how many of the kept
 * answers are right, and the calibration of the pool's votes. It is how the demo's filter settings
 * were chosen; a variant takes a fraction of a campaign's time (the sweep: docs/demo-history.md).
 *
 * It differs from a campaign round on purpose in two ways: the pool is generated here with its
 * labels (from the stream `poolSeed`, disjoint from the base model's splits), and round 1's samples
 * are cached per (pool, m, T) in tmp/ so variants that only change the filter or the training reuse
 * them. Evaluation is the workflows' (greedy + SC@16 on the demo's evaluation split), with its own
 * sampling seeds, so absolute numbers differ from a campaign's by the sampling noise (±3–4 points on
 * 200 questions). Appends one JSON line per variant to bench/results/round-sweep.jsonl.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { machine } from './machine';
import { buildArithBaseModel, DEMO_RECIPE } from '../embedded';
import { loadGenerationModel, generatePaths, type GenerationModel } from '../engine/generate';
import { fineTune } from '../engine/train';
import { keepConsistentPaths } from '../method/filter';
import { zeroShotCotPrompt } from '../method/formats';
import { greedyAccuracy, selfConsistencyAccuracy } from '../method/metrics';
import { mixedFormats } from '../method/mixed-formats';
import { chooseReplay } from '../method/replay';
import { arith, generateArithSplits } from '../method/tasks/arith';
import { FORMAT_NAMES, type FormatName, type Question } from '../method/types';
import { answerPaths, voteOnQuestion, type AnsweredPath } from '../method/vote';

const ROOT = path.resolve(__dirname, '..');

const Variant = z.strictObject({
  tag: z.string().regex(/^[A-Za-z0-9._-]+$/),
  pool: z.int().min(1).default(1000),
  poolSeed: z.string().default('pool'),
  m: z.int().min(1).default(16),
  temperature: z.number().min(0).default(0.7),
  minConfidence: z.number().min(0).max(1).default(0.7),
  /** null: every path that agrees with the majority. */
  maxPerQuestion: z.int().min(1).nullable().default(8),
  epochs: z.int().min(1).default(3),
  learningRate: z.number().positive().default(3e-4),
  replayRatio: z.number().min(0).default(0.5),
  formats: z
    .array(z.enum(FORMAT_NAMES as readonly [FormatName, ...FormatName[]]))
    .default(['zero-shot-cot', 'zero-shot-direct']),
  /** Also evaluate the base model first. */
  evalBase: z.boolean().default(false),
});
type Variant = z.infer<typeof Variant>;

const SAMPLING = { maxNewTokens: 160, stop: ['\n\n'] };

async function evaluate(model: GenerationModel, evalFile: string) {
  const { questions } = await arith.loadQuestions(evalFile);
  const prompts = questions.map((q) => ({ id: q.id, text: zeroShotCotPrompt(arith, q) }));
  const common = { prompts, ...SAMPLING, seed: 'eval' };
  const greedy = await generatePaths(model, { ...common, n: 1, temperature: 0 });
  const sampled = await generatePaths(model, { ...common, n: 16, temperature: 0.7 });
  const g = greedyAccuracy(
    arith,
    questions.map((question, i) => ({ question, text: greedy[i][0].text })),
  );
  const items = questions.map((question, i) => ({
    question,
    paths: answerPaths(
      arith,
      question,
      sampled[i].map((c, pathIndex) => ({ questionId: question.id, pathIndex, ...c })),
    ),
  }));
  const sc = selfConsistencyAccuracy(arith, items, 16, { seed: 'eval' });
  return { greedyAccuracy: g.accuracy, scAccuracy: sc.accuracy };
}

/** Fresh 4-step problems with their answers, disjoint by text from every split of the base data. */
function labeledPool(dataDir: string, v: Variant) {
  const taken = new Set<string>();
  for (const f of ['train', 'unlabeled', 'eval'])
    for (const l of readFileSync(path.join(dataDir, `${f}.jsonl`), 'utf8').split('\n'))
      if (l.trim()) taken.add((JSON.parse(l) as { question: string }).question);
  return generateArithSplits(v.poolSeed, { train: v.pool * 2, unlabeled: 0, eval: 0 }, DEMO_RECIPE.knobs)
    .train.filter((r) => !taken.has(r.question))
    .slice(0, v.pool);
}

async function runVariant(v: Variant) {
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  const base = await buildArithBaseModel(path.join(ROOT, 'tmp', 'demo-models'), DEMO_RECIPE);
  const work = path.join(ROOT, 'tmp', 'round-sweep', v.tag);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const poolFile = path.join(work, 'pool.jsonl');
  writeFileSync(
    poolFile,
    labeledPool(path.dirname(base.data.train), v)
      .map((r) => `${JSON.stringify(r)}\n`)
      .join(''),
  );
  const { questions } = await arith.loadQuestions(poolFile);
  const unlabeled: Question[] = questions.map((q) => ({ ...q, gold: null }));

  const model = await loadGenerationModel(base.modelDir);
  const baseScores = v.evalBase ? await evaluate(model, base.data.eval) : null;
  const cache = path.join(
    ROOT,
    'tmp',
    'round-sweep',
    `samples-${v.pool}-${v.poolSeed}-${v.m}-${v.temperature}.json`,
  );
  const sampled = existsSync(cache)
    ? (JSON.parse(readFileSync(cache, 'utf8')) as Awaited<ReturnType<typeof generatePaths>>)
    : await generatePaths(model, {
        prompts: unlabeled.map((q) => ({ id: q.id, text: zeroShotCotPrompt(arith, q) })),
        n: v.m,
        temperature: v.temperature,
        ...SAMPLING,
        seed: 's1',
      });
  if (!existsSync(cache)) writeFileSync(cache, JSON.stringify(sampled));

  // Vote and filter as the workflows do (no label), then score what was kept against the labels.
  const kept: AnsweredPath[] = [];
  const calibration = Array.from({ length: 10 }, (_, i) => ({ lo: i / 10, questions: 0, right: 0 }));
  let keptQuestions = 0;
  let keptRight = 0;
  let keptPathsRight = 0;
  questions.forEach((q, i) => {
    const { paths, vote } = voteOnQuestion(
      arith,
      unlabeled[i],
      sampled[i].map((c, pathIndex) => ({ questionId: q.id, pathIndex, ...c })),
    );
    const right = vote.answer !== null && arith.isCorrect(vote.answer, q.gold ?? [], q);
    const bin = calibration[Math.min(9, Math.floor(vote.confidence * 10))];
    bin.questions++;
    if (right) bin.right++;
    const r = keepConsistentPaths(paths, vote, {
      minConfidence: v.minConfidence,
      ...(v.maxPerQuestion === null ? {} : { maxPerQuestion: v.maxPerQuestion }),
    });
    if (r.kept.length === 0) return;
    keptQuestions++;
    if (right) {
      keptRight++;
      keptPathsRight += r.kept.length;
    }
    kept.push(...r.kept);
  });

  // The training set as buildTrainingSet makes it: mixed formats, then replayed seed examples.
  const examples: { prompt: string; completion: string }[] = mixedFormats(kept, v.formats, {
    task: arith,
    questions: unlabeled,
    seed: 'mf',
  });
  const replay = readFileSync(base.data.seedExamples, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { prompt: string; completion: string });
  for (const i of chooseReplay(replay.length, examples.length, v.replayRatio, 'round-sweep/round-1'))
    examples.push(replay[i]);
  const trained = await fineTune({
    from: base.modelDir,
    outDir: path.join(work, 'train'),
    examples,
    config: {
      epochs: v.epochs,
      batchSize: 16,
      learningRate: v.learningRate,
      warmupSteps: 10,
      checkpointEvery: 100_000,
      seed: 'exp/1',
    },
  });
  const round1 = await evaluate(await loadGenerationModel(trained.checkpointDir), base.data.eval);
  rmSync(path.join(work, 'train'), { recursive: true, force: true });
  return {
    ...v,
    date: new Date().toISOString(),
    keptQuestions,
    keptPaths: kept.length,
    keptAnswersRight: keptRight / Math.max(1, keptQuestions),
    keptPathsRight: keptPathsRight / Math.max(1, kept.length),
    poolCalibration: calibration.filter((b) => b.questions > 0),
    trainingExamples: examples.length,
    steps: trained.steps,
    base: baseScores,
    round1,
    seconds: seconds(),
  };
}

async function main(): Promise<void> {
  const variants = process.argv.slice(2).map((a) => Variant.parse(JSON.parse(a)));
  if (variants.length === 0) throw new Error('usage: npm run bench:round-sweep -- \'{"tag":"x", ...}\' ...');
  const out = path.join(ROOT, 'bench', 'results', 'round-sweep.jsonl');
  const pct = (x: number) => (x * 100).toFixed(1);
  for (const v of variants) {
    const r = await runVariant(v);
    appendFileSync(out, `${JSON.stringify({ machine: machine(), ...r })}\n`);
    process.stdout.write(
      `${r.tag}: kept ${r.keptPaths} paths / ${r.keptQuestions} questions (${pct(r.keptAnswersRight)} % right), ` +
        `${r.steps} steps; ${r.base ? `base ${pct(r.base.greedyAccuracy)} / ${pct(r.base.scAccuracy)}, ` : ''}` +
        `round 1 greedy ${pct(r.round1.greedyAccuracy)} / SC@16 ${pct(r.round1.scAccuracy)} (${r.seconds} s)\n`,
    );
  }
}

if (require.main === module)
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
