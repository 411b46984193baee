import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type {
  FineTuneCursor,
  FineTuneHeartbeat,
  FineTuneInput,
  FineTuneResult,
  PolicyRecord,
  PolicyUpdateInput,
  TrainingRecord,
} from '../contract';
import { engineTrainingConfig } from '../config/engine-training';
import { loadTokenizer } from '../engine/tokenizer/load';
import { fineTune as runFineTune, type FineTuneExample, type PolicyExample } from '../engine/train';
import type { ActivityDeps } from './deps';
import { cancellationSignal, heartbeat, heartbeatCursor } from './context';
import { failingClearly } from './failures';
import { localModelDir } from './model-cache';
import { promptingFor } from './prompting';

/** The paper's step 5: fine-tune the model on its own self-consistent paths (loss on completions only). */
export function makeFineTune(deps: ActivityDeps) {
  return async function fineTune(input: FineTuneInput): Promise<FineTuneResult> {
    return failingClearly(async () => {
      const examples: { prompt: string; completion: string }[] = [];
      for await (const e of deps.store.readJsonl<TrainingRecord>(input.trainingSetRef)) {
        examples.push({ prompt: e.prompt, completion: e.completion });
      }
      // As chat turns when the model is prompted with its chat template: trained as it is sampled.
      // Only then do the examples need the model's folder (its template); raw text does not.
      if (input.chatTemplate !== 'auto') return train(deps, input, input.role ?? 'teacher', examples);
      return train(deps, input, input.role ?? 'teacher', {
        length: examples.length,
        inModel: (from) => {
          const prompting = promptingFor(from, loadTokenizer(from), input.chatTemplate);
          return examples.map((e) => prompting.example(e));
        },
      });
    });
  };
}

/**
 * strategy 'ttrl': the round's GRPO update on its policy set (buildPolicySet), resumable from its
 * heartbeated checkpoints exactly as fine-tuning is. The records carry each prompt as it was sampled
 * (chat template already applied), so they are trained as they are. A path the model ended at once
 * (no text) is left out: the engine trains completions of at least one character.
 */
export function makePolicyUpdate(deps: ActivityDeps) {
  return async function policyUpdate(input: PolicyUpdateInput): Promise<FineTuneResult> {
    return failingClearly(async () => {
      const examples: PolicyExample[] = [];
      for await (const r of deps.store.readJsonl<PolicyRecord>(input.policySetRef)) {
        if (r.completion.length > 0)
          examples.push({ prompt: r.prompt, completion: r.completion, advantage: r.advantage });
      }
      return train(deps, input, 'teacher', examples, input.grpo);
    });
  };
}

/**
 * The examples to train on: ready, or (chat turns) made from the model's folder once it is local,
 * one per record, so their number is known before the model is fetched.
 */
type Examples = FineTuneExample[] | { length: number; inModel: (modelDir: string) => FineTuneExample[] };

type TrainingRun = Pick<
  FineTuneInput,
  'campaignId' | 'round' | 'modelRef' | 'training' | 'seed' | 'executionProvider' | 'allowCpuFallback'
>;

/**
 * Trains `run.modelRef` on examples and stores the result; with none, returns the model untrained
 * before fetching it from the store. Every `checkpointEvery` steps the checkpoint is stored and
 * heartbeated; a retry on any machine unpacks the last one and resumes, reproducing the
 * uninterrupted run.
 */
async function train(
  deps: ActivityDeps,
  run: TrainingRun,
  role: 'teacher' | 'student',
  source: Examples,
  grpo?: PolicyUpdateInput['grpo'],
): Promise<FineTuneResult> {
  const { store } = deps;
  const work = path.join(deps.cacheDir, 'train', run.campaignId, `round-${run.round}-${role}`);
  const beat = heartbeatCursor<FineTuneHeartbeat>();
  // A heartbeat from before the first checkpoint carries progress only: nothing to resume.
  const cursor =
    beat?.checkpointRef === undefined || beat.step === undefined
      ? undefined
      : { checkpointRef: beat.checkpointRef, step: beat.step };
  if (source.length === 0) {
    return {
      modelRef: run.modelRef,
      trained: false,
      steps: 0,
      examples: 0,
      finalLoss: null,
      lossCurve: [],
      lossCurveRef: null,
      tokensSeen: 0,
      resumedFromStep: 0,
    };
  }
  let from = await localModelDir(store, deps.cacheDir, run.modelRef);
  const examples = Array.isArray(source) ? source : source.inModel(from);
  await fs.rm(work, { recursive: true, force: true });
  await fs.mkdir(work, { recursive: true });
  let resume = false;
  let latest: FineTuneCursor | undefined = cursor;
  if (cursor) {
    from = path.join(work, `resume-${cursor.step}`);
    await store.materializeTree(cursor.checkpointRef, from);
    resume = true;
  }
  const result = await runFineTune({
    from,
    resume,
    outDir: path.join(work, 'out'),
    examples,
    config: engineTrainingConfig(run.training, { seed: run.seed, grpo }),
    threads: deps.threads,
    provider: run.executionProvider ?? 'cpu',
    allowCpuFallback: run.allowCpuFallback ?? false,
    signal: cancellationSignal(),
    // A policy update first scores every path under the starting model: a long pass on a large
    // model, heartbeated as step 0 (nothing to resume yet).
    onScoring: () => {
      heartbeat({ ...latest, progress: { step: 0, totalSteps: 0, loss: 0 } } satisfies FineTuneHeartbeat);
    },
    onProgress: async (p) => {
      // Every heartbeat repeats the newest stored checkpoint: the server keeps only the last
      // details, so a heartbeat without it would make a retry start over.
      if (p.checkpointDir) {
        const { ref } = await store.putTree(p.checkpointDir);
        latest = { checkpointRef: ref, step: p.step };
      }
      heartbeat({
        ...latest,
        progress: { step: p.step, totalSteps: p.totalSteps, loss: p.loss },
      } satisfies FineTuneHeartbeat);
    },
  });
  const modelRef = (await store.putTree(result.checkpointDir)).ref;
  const curve = result.lossCurve;
  const every = Math.max(1, Math.ceil(curve.length / 200));
  await fs.rm(work, { recursive: true, force: true });
  return {
    modelRef,
    trained: true,
    steps: result.steps,
    examples: examples.length,
    finalLoss: result.finalLoss,
    lossCurve: curve.filter((_, i) => i % every === 0 || i === curve.length - 1),
    lossCurveRef: (await store.putJson(curve)).ref,
    tokensSeen: result.tokensSeen,
    resumedFromStep: cursor?.step ?? 0,
  };
}
