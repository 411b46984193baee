import { z } from 'zod';
import { FilterOptions } from '../method/filter';
import { LoraConfig } from '../engine/model/lora-config';
import { S3StoreConfig } from '../store/s3-config';
import { CustomTaskOptions } from '../method/tasks/custom';
import { TASK_NAMES } from '../method/tasks';
import { FORMAT_NAMES, type FormatName, type TaskName } from '../method/types';

/**
 * The campaign config: everything a self-improvement campaign needs, validated at the boundary.
 * Unknown keys are rejected (a typo must not silently fall back to a default). Defaults follow the
 * paper where it has one (m = 32, T = 0.7, all four mixed formats).
 */

const TASKS = TASK_NAMES as readonly [TaskName, ...TaskName[]];
const FORMATS = FORMAT_NAMES as readonly [FormatName, ...FormatName[]];

const positiveInt = z.int().min(1);

/** The largest context (in tokens) of any model family lmsi runs (Llama 3.1, Qwen2.5: 131 072). */
export const MAX_NEW_TOKENS = 131_072;

export const ModelConfig = z.strictObject({
  /** Folder with onnx/model.onnx (or model.onnx), tokenizer.json and tokenizer_config.json. */
  dir: z.string().min(1),
  executionProvider: z.enum(['cpu', 'cuda']).default('cpu'),
  /** Fall back to cpu when cuda is asked for but its libraries are missing (else fail clearly). */
  allowCpuFallback: z.boolean().default(false),
});

export const StudentConfig = z.strictObject({
  /** A (smaller) model folder fine-tuned on the teacher's self-training set each round (distillation). */
  dir: z.string().min(1),
});

export const TaskConfig = z.strictObject({
  name: z.enum(TASKS),
  /** For `custom`: JSONL field names, the answer regex and the answer type (see method/tasks/custom). */
  ...CustomTaskOptions.shape,
});

export const DataConfig = z.strictObject({
  /** Questions the rounds sample from; their labels, if any, are never read. */
  unlabeledQuestions: z.string().min(1),
  /** Labeled questions for evaluation (greedy accuracy, SC@k, calibration). */
  evaluation: z.string().min(1),
  /** Few-shot CoT exemplars (JSONL {question, rationale, answer}); omit to self-generate them. */
  exemplars: z.string().min(1).optional(),
  /**
   * Labeled seed examples (JSONL {prompt, completion}) replayed during fine-tuning (training.replayRatio).
   * They were used to make the base model; the rounds use no new label.
   */
  replayExamples: z.string().min(1).optional(),
  /** What a malformed line does: stop the run, or skip it and list it in the report. */
  badLines: z.enum(['fail-fast', 'skip-and-report']).default('fail-fast'),
  /** Use only the first N questions of each file (quick runs). */
  limit: positiveInt.optional(),
});

export const SamplingConfig = z.strictObject({
  /** Paths sampled per question (paper: 32). */
  m: z.int().min(1).max(1024).default(32),
  /** Paper: 0.7. 0 means greedy. */
  temperature: z.number().min(0).max(5).default(0.7),
  /** 0 disables top-k. */
  topK: z.int().min(0).default(0),
  /** 1 disables nucleus sampling. */
  topP: z.number().gt(0).max(1).default(1),
  /**
   * At most MAX_NEW_TOKENS, the largest context of the models lmsi runs: a larger value cannot be
   * honoured by any of them. The model's own context (known when the campaign starts) clips it
   * further, with a warning in the round's status.
   */
  maxNewTokens: positiveInt
    .max(MAX_NEW_TOKENS, `at most ${MAX_NEW_TOKENS}: no model's context holds more new tokens`)
    .default(256),
  /** Generation stops at the first of these strings (the blank line that ends an exemplar). */
  stop: z.array(z.string().min(1)).default(['\n\n']),
  /**
   * The prompt paths are sampled with: the paper's few-shot CoT (needs exemplars: data.exemplars or
   * self-generated ones) or zero-shot CoT ("Let's think step by step.", for models with a short context).
   */
  prompt: z.enum(['few-shot-cot', 'zero-shot-cot']).default('few-shot-cot'),
  /** Questions per sampling shard (one activity, one artifact). */
  shardSize: positiveInt.default(64),
  /** Shards sampled at the same time across all workers. */
  maxConcurrentShards: positiveInt.default(4),
});

export const PromptingConfig = z.strictObject({
  /**
   * 'auto': a model folder with a chat template (tokenizer_config.json's chat_template, or
   * chat_template.jinja) is prompted in chat turns: exemplars and question in the user turn, the
   * answer in the assistant turn, trained on the assistant turn only, stopped at its end-of-turn
   * token. 'none': every model gets the raw text prompts of the paper.
   */
  chatTemplate: z.enum(['auto', 'none']).default('auto'),
});

export const VotingConfig = z.strictObject({
  /** 'count': one path, one vote (paper). 'logprob': votes weighted by path probability. */
  weighting: z.enum(['count', 'logprob']).default('count'),
});

/**
 * The filter's options (minConfidence, dedupe, maxPerQuestion, maxChars), declared with their
 * defaults once, by the filter itself (method/filter.ts); the histogram's bins are the report's.
 */
export const FilteringConfig = FilterOptions.omit({ histogramBins: true });

/**
 * How examples share the trainer's rows (engine/train/batches.ts): 'best-fit' packs rows fuller than
 * 'next-fit' when formats mix long and short examples, so an epoch takes fewer optimiser steps (the
 * demo's, with the same gains: bench/results/demo-best-fit.json, docs/demo-history.md); 'none' puts
 * one example per row.
 */
export const PackingMode = z.enum(['best-fit', 'next-fit', 'none']);
export type PackingMode = z.infer<typeof PackingMode>;

/**
 * Training settings that change from a given round on (training.fromRound). Later rounds start from
 * a better model and keep more paths (the demo's round 2 set is several times round 1's), so they
 * may need fewer epochs or a lower learning rate. `epochs` replaces the campaign's `steps` and vice
 * versa.
 */
export const TrainingOverride = z
  .strictObject({
    epochs: positiveInt.optional(),
    steps: positiveInt.optional(),
    learningRate: z.number().positive().max(1).optional(),
    warmupSteps: z.int().min(0).optional(),
    weightDecay: z.number().min(0).optional(),
    replayRatio: z.number().min(0).optional(),
  })
  .refine((t) => t.epochs === undefined || t.steps === undefined, {
    message: 'set at most one of epochs and steps',
  });
export type TrainingOverride = z.infer<typeof TrainingOverride>;

export const TrainingConfig = z
  .strictObject({
    /** Exactly one of epochs or steps. */
    epochs: positiveInt.optional(),
    steps: positiveInt.optional(),
    learningRate: z.number().positive().max(1).default(3e-4),
    batchSize: positiveInt.default(16),
    gradientAccumulation: positiveInt.default(1),
    warmupSteps: z.int().min(0).default(0),
    weightDecay: z.number().min(0).default(0),
    /** Save a checkpoint (and heartbeat it) every N optimiser steps. */
    checkpointEvery: positiveInt.default(100),
    /** Labeled seed examples replayed per self-generated example (0 = none). */
    replayRatio: z.number().min(0).default(0),
    /** PackingMode. Campaigns started before best-fit became the default keep next-fit (in their history). */
    packing: PackingMode.default('best-fit'),
    /**
     * Tokens per packed row. Absent: the longest training example's, rounded up to a multiple of
     * 64, at most 1024 and the model's context — never the context itself, whose square the
     * training graph's attention memory grows with. A longer example has its prompt cut from the
     * left; one whose completion alone does not fit is dropped; both are counted.
     */
    maxSeqLen: positiveInt.optional(),
    /**
     * 'full' (absent): every weight trains. 'lora': LoRA adapters train on the frozen model (AdamW
     * state for them only); each round's model is the merge, its adapters beside it in PEFT's
     * layout (adapter/), and the next round adapts that model afresh.
     */
    method: z.enum(['full', 'lora']).optional(),
    /** LoRA's rank (8), alpha (16), dropout (0) and targetModules (all of q k v o gate up down). */
    lora: LoraConfig.optional(),
    /**
     * Recompute each decoder layer's activations in the backward pass: less memory for one more
     * forward pass per step, the same weights (docs/training-memory.md says when it pays).
     */
    recompute: z.boolean().optional(),
    /**
     * Round number (from 1) -> settings that apply from that round on, on top of the ones above;
     * overrides of earlier rounds carry over. E.g. {"2": {"epochs": 1}}: round 1 trains the
     * campaign's epochs, every later round one epoch.
     */
    fromRound: z
      .record(z.string().regex(/^[1-9][0-9]*$/, 'a round number from 1'), TrainingOverride)
      .optional(),
  })
  .refine((t) => (t.epochs === undefined) !== (t.steps === undefined), {
    message: 'set exactly one of training.epochs and training.steps',
  })
  .refine((t) => t.lora === undefined || t.method === 'lora', {
    message: "training.lora needs training.method 'lora'",
    path: ['lora'],
  });

export const EvaluationConfig = z.strictObject({
  greedy: z.boolean().default(true),
  /** Self-consistency accuracy at these numbers of sampled paths (the largest is sampled once). */
  scK: z.array(positiveInt).default([16]),
  calibrationBins: positiveInt.default(10),
  /** Questions per evaluation shard. */
  shardSize: positiveInt.default(64),
});

export const SelfGenerationConfig = z.strictObject({
  /** Few-shot CoT exemplar templates built from zero-shot-CoT samples when data.exemplars is unset. */
  exemplarTemplates: positiveInt.default(20),
  exemplarShots: positiveInt.default(4),
  /** Unlabeled questions sampled with zero-shot CoT to choose exemplars from. */
  exemplarCandidates: positiveInt.default(200),
  /** New questions the model writes per round (the paper's self-generated questions); 0 = off. */
  questionsPerRound: z.int().min(0).default(0),
  /** Pool questions shown in each question-writing prompt (fewer when the model's context is short). */
  questionShots: positiveInt.default(4),
});

/**
 * strategy 'ttrl' (Zuo et al. 2025): each round rewards every trained path 1 when its answer is the
 * majority answer of all sampling.m paths (0 otherwise) and updates the model by GRPO on those
 * rewards, instead of fine-tuning on the agreeing paths. The optimiser's settings (learning rate,
 * steps or epochs, batch size: the mini-batches of the update) are training's.
 */
export const TtrlConfig = z.strictObject({
  /** Paths per question trained on: the first this many of the sampling.m that vote (TTRL: 64 vote, 16 train). */
  trainedPaths: positiveInt.default(16),
  /** The clip range ε of the importance ratio against the sampling policy. */
  clipEpsilon: z.number().gt(0).lt(1).default(0.2),
  /** β of the KL penalty to the round's starting model (k3 estimator); 0: none, as TTRL trains. */
  klBeta: z.number().min(0).default(0),
});

/**
 * The collapse rule (method/health.ts): stops the campaign when the round's model shows the collapse
 * intrinsic-reward training heads for, read from its sampled paths alone (on the evaluation questions;
 * their labels are not read for it). The round is not promoted, the campaign ends after it, and the
 * best earlier round's model stands. Each rule is off unless set.
 */
export const LabelFreeGate = z
  .strictObject({
    /** Collapse when the mean answer entropy (bits) falls below this floor... */
    minAnswerEntropy: z.number().min(0).optional(),
    /** ...while the mean majority share is at least this (the vote has saturated). */
    saturatedMajorityShare: z.number().min(0).max(1).default(0.9),
    /** Collapse when the median path length moves more than this factor from the base model's, either way. */
    maxMedianLengthFactor: z.number().gt(1).optional(),
    /** Collapse when fewer than this fraction of a question's paths are distinct rationales (mean). */
    minDistinctRationales: z.number().min(0).max(1).optional(),
  })
  .refine(
    (g) =>
      g.minAnswerEntropy !== undefined ||
      g.maxMedianLengthFactor !== undefined ||
      g.minDistinctRationales !== undefined,
    {
      message:
        'gate.labelFree: set at least one of minAnswerEntropy, maxMedianLengthFactor, minDistinctRationales',
    },
  );

export const GateConfig = z.strictObject({
  /** A round is promoted unless its greedy accuracy drops more than this (absolute) below the best. */
  tolerance: z.number().min(0).max(1).default(0.01),
  /**
   * A round whose vote keeps fewer than this fraction of its sampled paths is not trained on: it
   * stops the campaign with the reason (NothingKept). A round that keeps no path at all does so too
   * (nothing agreed: a tokenizer that does not fit the model, or sampling.maxNewTokens too short).
   */
  minKeptFraction: z.number().min(0).max(1).default(0),
  /**
   * false: a round that keeps no path goes on anyway (trains on nothing, gated on its evaluation);
   * for orchestration tests on untrained models, never for a real campaign.
   */
  stopWhenNothingKept: z.boolean().default(true),
  /** Stop the campaign when its model collapses, judged without labels (off unless set). */
  labelFree: LabelFreeGate.optional(),
});

export const TemporalConfig = z.strictObject({
  /** Unset: Temporal's environment configuration (TEMPORAL_ADDRESS, profiles, TLS, API key). */
  address: z.string().min(1).optional(),
  namespace: z.string().min(1).optional(),
  /**
   * How long a model activity may go without a heartbeat before Temporal retries it elsewhere (a
   * killed worker's shard moves on after this). The trade-off: shorter moves a dead worker's work on
   * sooner, but must stay longer than the longest stretch without a heartbeat (loading a large model
   * onto the accelerator, one slow step), or a live attempt is retried and its work done twice.
   * Light activities heartbeat on a timer with a fixed 20 s timeout (workflows/presets.ts).
   */
  heartbeatTimeoutSeconds: positiveInt.default(120),
  taskQueues: z
    .strictObject({
      /** Voting, filtering, formatting, reports. */
      light: z.string().min(1).default('lmsi-light'),
      /** Sampling, training, evaluation: only machines with the model's accelerator poll it. */
      accelerator: z.string().min(1).default('lmsi-accelerator'),
    })
    .default({ light: 'lmsi-light', accelerator: 'lmsi-accelerator' }),
});

export const CampaignConfig = z
  .strictObject({
    /** Lets editors validate the file: "./lmsi.config.schema.json". */
    $schema: z.string().optional(),
    /** Campaign id (workflow id prefix); letters, digits, '.', '_' and '-'. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"'),
    seed: z.int().min(0).default(0),
    model: ModelConfig,
    /** Distillation: fine-tune this student on each round's self-training set and evaluate it too. */
    student: StudentConfig.optional(),
    task: TaskConfig,
    data: DataConfig,
    sampling: SamplingConfig.default(SamplingConfig.parse({})),
    prompting: PromptingConfig.default(PromptingConfig.parse({})),
    voting: VotingConfig.default(VotingConfig.parse({})),
    filtering: FilteringConfig.default(FilteringConfig.parse({})),
    /** Which of the paper's four mixed formats to train on (all four by default). */
    formats: z
      .array(z.enum(FORMATS))
      .min(1)
      .refine((f) => new Set(f).size === f.length, 'formats must not repeat')
      .default([...FORMATS]),
    training: TrainingConfig,
    /**
     * How a round improves the model. 'lmsi' (the paper): fine-tune on the paths that agree with the
     * majority, in the mixed formats. 'ttrl': a GRPO update rewarding agreement with the majority.
     */
    strategy: z.enum(['lmsi', 'ttrl']).default('lmsi'),
    ttrl: TtrlConfig.default(TtrlConfig.parse({})),
    evaluation: EvaluationConfig.default(EvaluationConfig.parse({})),
    selfGeneration: SelfGenerationConfig.default(SelfGenerationConfig.parse({})),
    rounds: z.int().min(1).max(100).default(3),
    gate: GateConfig.default(GateConfig.parse({})),
    temporal: TemporalConfig.default(TemporalConfig.parse({})),
    artifacts: z
      .strictObject({
        /** The store's folder, shared by every worker; with `s3`, this machine's read-through cache. */
        dir: z.string().min(1).default('.state/artifacts'),
        /** An S3-compatible bucket instead of a shared folder (credentials from the AWS chain, not here). */
        s3: S3StoreConfig.optional(),
      })
      .default({ dir: '.state/artifacts' }),
  })
  .superRefine((c, ctx) => {
    if (c.strategy === 'ttrl' && c.ttrl.trainedPaths > c.sampling.m)
      ctx.addIssue({
        code: 'custom',
        path: ['ttrl', 'trainedPaths'],
        message: `${c.ttrl.trainedPaths} trained paths per question, but only sampling.m = ${c.sampling.m} are sampled: at most sampling.m`,
      });
    if (c.strategy === 'ttrl' && c.student)
      ctx.addIssue({
        code: 'custom',
        path: ['student'],
        message:
          "distillation trains the student on the round's self-training set, which strategy 'ttrl' does not build",
      });
  });

export type CampaignConfig = z.output<typeof CampaignConfig>;
export type CampaignConfigInput = z.input<typeof CampaignConfig>;
