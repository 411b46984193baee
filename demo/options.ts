import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { CampaignConfig, LabelFreeGate, PackingMode } from '../config/campaign';
import { FORMAT_NAMES, type FormatName } from '../method/types';
import type { ArithBaseModel } from '../embedded';

/** The demo's command-line options; everything has a default so `npm run demo` needs none. */
export const DemoOptions = z.strictObject({
  quick: z.boolean(),
  seeds: z.array(z.int().min(0)).min(1),
  m: z.int().min(1).max(256),
  rounds: z.int().min(1).max(10),
  temperature: z.number().min(0).max(5),
  /** The mixed formats each kept path is trained in. */
  formats: z.array(z.enum(FORMAT_NAMES as readonly [FormatName, ...FormatName[]])).min(1),
  /** Keep a question's paths only when its majority reaches this vote share. */
  minConfidence: z.number().min(0).max(1),
  /** At most this many kept paths per question; null keeps every path that agrees with the majority. */
  maxPerQuestion: z.int().min(1).nullable(),
  /** Unlabeled questions the rounds sample (demo/pool.ts); absent: the recipe's unlabeled split. */
  pool: z.int().min(1).max(100_000).optional(),
  /**
   * Accelerator workers (one in this process, the rest child processes), each sampling on one
   * thread: shards run this many at a time. Default: one per core.
   */
  workers: z.int().min(1).max(64),
  /** Epochs of round 1 (config training.epochs). */
  epochs: z.int().min(1).max(20),
  /** Epochs of every round after the first (config training.fromRound when it differs from `epochs`). */
  laterEpochs: z.int().min(1).max(20),
  /** Peak learning rate of round 1's fine-tuning (config training.learningRate). */
  learningRate: z.number().positive().max(1),
  /** Peak learning rate of every round after the first (training.fromRound when it differs). */
  laterLearningRate: z.number().positive().max(1),
  /** How the trainer packs examples into rows (config training.packing). */
  packing: PackingMode,
  uiPort: z.int().min(1024).max(65535),
  out: z.string().min(1),
  /** Keep the dev server and its Web UI up after the run, until Ctrl-C. */
  hold: z.boolean(),
  /** 'lmsi' (the paper: fine-tune on the agreeing paths) or 'ttrl' (GRPO on majority-vote rewards). */
  strategy: z.enum(['lmsi', 'ttrl']),
  /** ttrl: paths per question trained on (the first of the m that vote). */
  trainedPaths: z.int().min(1),
  /** gate.labelFree for the campaign (off when absent). */
  labelFree: LabelFreeGate.optional(),
});
export type DemoOptions = z.infer<typeof DemoOptions>;

const USAGE =
  'usage: npm run demo -- [--quick] [--hold] [--seed N | --seeds N,N,..] [--m N] [--rounds N] [--temperature T] ' +
  '[--formats f1,f2] [--min-confidence C] [--max-per-question N|all] [--epochs N] [--later-epochs N] [--learning-rate LR] [--later-learning-rate LR] [--pool N] [--workers N] [--packing best-fit|next-fit|none] [--ui-port N] [--out FILE] ' +
  "[--strategy lmsi|ttrl] [--trained-paths N] [--label-free '{\"maxMedianLengthFactor\":1.5}']";

/**
 * The demo's unlabeled pool: large enough that keeping only questions whose majority has ≥ 70 % of
 * the votes still leaves a few hundred questions, most of them right, to train on; a smaller pool at a
 * looser filter kept fewer right answers (docs/demo-history.md, bench:round-sweep).
 */
export const DEMO_POOL_SIZE = 1000;
export const DEMO_MIN_CONFIDENCE = 0.7;
export const DEMO_MAX_PER_QUESTION: number | null = 8;
/**
 * Round 1 trains 3 epochs, later rounds 1, at a peak learning rate of 1e-3 (cosine to 0.1×). On 3
 * seeds round 1 at fewer epochs, or at the prototype's 3e-4, gained too little greedy accuracy; round
 * 2 starts from a better model with several times the kept paths, and one epoch there matched three
 * (every training measured: docs/demo-history.md).
 */
export const DEMO_EPOCHS = 3;
export const DEMO_LATER_EPOCHS = 1;
export const DEMO_LEARNING_RATE = 1e-3;
/**
 * strategy 'ttrl' on the demo model: 8 of the m = 16 voting paths trained per question (TTRL trains
 * a quarter of its 64), one epoch over them per round at a peak learning rate of 1e-4.
 */
export const DEMO_TTRL_TRAINED_PATHS = 8;
export const DEMO_TTRL_LEARNING_RATE = 1e-4;
export const DEMO_TTRL_EPOCHS = 1;

/**
 * The paper's four mixed formats: a few-shot prompt with one seed-set exemplar fits the embedded
 * model's 352 positions. Against the two zero-shot formats alone, on 3 seeds: more gain after both
 * rounds, for more training (bench/results/demo-next-fit.json and demo-zero-shot.json;
 * docs/demo-history.md).
 */
export const DEMO_FORMATS: FormatName[] = [
  'few-shot-cot',
  'few-shot-direct',
  'zero-shot-cot',
  'zero-shot-direct',
];
/** `--quick`'s tiny model has 256 positions: an exemplar would crowd out the question, so zero-shot only. */
export const QUICK_FORMATS: FormatName[] = ['zero-shot-cot', 'zero-shot-direct'];

export function parseDemoArgs(argv: readonly string[]): DemoOptions {
  const raw: Record<string, unknown> = {
    quick: false,
    hold: false,
    seeds: [1],
    rounds: 2,
    temperature: 0.7,
    packing: 'best-fit',
    uiPort: 8233,
    out: 'bench/results/demo-last.json',
    strategy: 'lmsi',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--quick') raw.quick = true;
    else if (flag === '--hold') raw.hold = true;
    else if (flag === '--seed') raw.seeds = [Number(value())];
    else if (flag === '--seeds') raw.seeds = value().split(',').map(Number);
    else if (flag === '--m') raw.m = Number(value());
    else if (flag === '--rounds') raw.rounds = Number(value());
    else if (flag === '--temperature') raw.temperature = Number(value());
    else if (flag === '--formats') raw.formats = value().split(',');
    else if (flag === '--min-confidence') raw.minConfidence = Number(value());
    else if (flag === '--max-per-question') {
      const v = value();
      raw.maxPerQuestion = v === 'all' ? null : Number(v);
    } else if (flag === '--pool') raw.pool = Number(value());
    else if (flag === '--workers') raw.workers = Number(value());
    else if (flag === '--packing') raw.packing = value();
    else if (flag === '--epochs') raw.epochs = Number(value());
    else if (flag === '--later-epochs') raw.laterEpochs = Number(value());
    else if (flag === '--learning-rate') raw.learningRate = Number(value());
    else if (flag === '--later-learning-rate') raw.laterLearningRate = Number(value());
    else if (flag === '--ui-port') raw.uiPort = Number(value());
    else if (flag === '--out') raw.out = value();
    else if (flag === '--strategy') raw.strategy = value();
    else if (flag === '--trained-paths') raw.trainedPaths = Number(value());
    else if (flag === '--label-free') raw.labelFree = JSON.parse(value()) as unknown;
    else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  raw.m ??= raw.quick ? 4 : 16;
  raw.formats ??= raw.quick ? QUICK_FORMATS : DEMO_FORMATS;
  raw.workers ??= Math.max(1, os.cpus().length);
  const ttrl = raw.strategy === 'ttrl';
  raw.trainedPaths ??= Math.min(DEMO_TTRL_TRAINED_PATHS, raw.m as number);
  raw.epochs ??= ttrl ? DEMO_TTRL_EPOCHS : DEMO_EPOCHS;
  raw.laterEpochs ??= ttrl ? DEMO_TTRL_EPOCHS : DEMO_LATER_EPOCHS;
  raw.learningRate ??= ttrl ? DEMO_TTRL_LEARNING_RATE : DEMO_LEARNING_RATE;
  raw.laterLearningRate ??= raw.learningRate;
  if (!raw.quick) raw.pool ??= DEMO_POOL_SIZE;
  // --quick's tiny model is rarely 70 % sure of anything: it keeps the looser filter, to exercise every step.
  raw.minConfidence ??= raw.quick ? 0.5 : DEMO_MIN_CONFIDENCE;
  if (!('maxPerQuestion' in raw)) raw.maxPerQuestion = raw.quick ? 4 : DEMO_MAX_PER_QUESTION;
  const parsed = DemoOptions.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n${USAGE}`,
    );
  return parsed.data;
}

/** Round 2 on, what differs from round 1 (config training.fromRound); nothing when every round is the same. */
function laterTraining(o: DemoOptions): {
  fromRound?: Record<number, { epochs?: number; learningRate?: number }>;
} {
  const later = {
    ...(o.laterEpochs === o.epochs ? {} : { epochs: o.laterEpochs }),
    ...(o.laterLearningRate === o.learningRate ? {} : { learningRate: o.laterLearningRate }),
  };
  return Object.keys(later).length === 0 ? {} : { fromRound: { 2: later } };
}

/**
 * The demo campaign: zero-shot CoT sampling (the prompt the base model was trained on), each kept path
 * trained in `options.formats` (each format with its own prompt), seed examples replayed at half the
 * number of self-generated ones, and only questions whose majority reaches `minConfidence`. Rounds
 * train by epochs over their set (DEMO_EPOCHS, then DEMO_LATER_EPOCHS; without replay the prototype
 * gained nothing). Few-shot formats use one seed-set exemplar.
 */
export function demoCampaignConfig(
  base: ArithBaseModel,
  options: DemoOptions,
  seed: number,
  artifactsDir: string,
  label = 'demo',
): CampaignConfig {
  const queue = `${label}-${process.pid}-${seed}`;
  const fewShot = options.formats.some((f) => f.startsWith('few-shot'));
  return CampaignConfig.parse({
    name: `${label}-${options.quick ? 'quick-' : ''}${Date.now()}-seed-${seed}`,
    seed,
    model: { dir: base.modelDir },
    task: { name: 'arith' },
    data: {
      unlabeledQuestions: base.data.unlabeled,
      evaluation: base.data.eval,
      replayExamples: base.data.seedExamples,
      ...(fewShot ? { exemplars: base.data.exemplars } : {}),
    },
    sampling: {
      m: options.m,
      temperature: options.temperature,
      // Longer than the longest 4-step rationale (~125 characters): a shorter limit turns paths into
      // abstentions.
      maxNewTokens: 160,
      prompt: 'zero-shot-cot',
      shardSize: options.quick ? 8 : 100,
      // One shard per accelerator worker at a time (demo/session.ts starts options.workers of them).
      maxConcurrentShards: options.workers,
    },
    formats: options.formats,
    filtering: {
      minConfidence: options.minConfidence,
      ...(options.maxPerQuestion === null ? {} : { maxPerQuestion: options.maxPerQuestion }),
    },
    training: options.quick
      ? {
          steps: 20,
          batchSize: 8,
          learningRate: 1e-3,
          checkpointEvery: 10,
          replayRatio: 0.5,
          packing: options.packing,
          // The demo's results were measured with rows of the model's context.
          maxSeqLen: 256,
        }
      : {
          packing: options.packing,
          epochs: options.epochs,
          batchSize: 16,
          learningRate: options.learningRate,
          warmupSteps: 10,
          checkpointEvery: 100,
          replayRatio: 0.5,
          // The demo's results were measured with rows of the model's context (DEMO_RECIPE).
          maxSeqLen: 352,
          ...laterTraining(options),
        },
    evaluation: { scK: [options.m], shardSize: options.quick ? 8 : 100 },
    // TTRL trains the rewarded paths as sampled (no formats, no replay, no filter).
    ...(options.strategy === 'ttrl'
      ? { strategy: 'ttrl', ttrl: { trainedPaths: options.trainedPaths } }
      : {}),
    ...(options.labelFree ? { gate: { tolerance: 0.01, labelFree: options.labelFree } } : {}),
    rounds: options.rounds,
    temporal: { taskQueues: { light: `${queue}-light`, accelerator: `${queue}-accel` } },
    artifacts: { dir: path.resolve(artifactsDir) },
  });
}
