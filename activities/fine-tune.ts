import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type {
  FineTuneCursor,
  FineTuneHeartbeat,
  FineTuneInput,
  FineTuneResult,
  TrainingRecord,
} from '../contract';
import { loadTokenizer } from '../engine/tokenizer/load';
import { fineTune as runFineTune } from '../engine/train';
import type { ActivityDeps } from './deps';
import { cancellationSignal, heartbeat, heartbeatCursor } from './context';
import { failingClearly } from './failures';
import { localModelDir } from './model-cache';
import { promptingFor } from './prompting';

/**
 * The paper's step 5: fine-tune the model on its own self-consistent paths (loss on completions
 * only). Every `checkpointEvery` steps the checkpoint is stored and heartbeated; a retry on any
 * machine unpacks the last one and resumes, reproducing the uninterrupted run.
 */
export function makeFineTune(deps: ActivityDeps) {
  return async function fineTune(input: FineTuneInput): Promise<FineTuneResult> {
    return failingClearly(async () => {
      const { store } = deps;
      const examples: { prompt: string; completion: string }[] = [];
      for await (const e of store.readJsonl<TrainingRecord>(input.trainingSetRef)) {
        examples.push({ prompt: e.prompt, completion: e.completion });
      }
      if (examples.length === 0) {
        return {
          modelRef: input.modelRef,
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
      const work = path.join(
        deps.cacheDir,
        'train',
        input.campaignId,
        `round-${input.round}-${input.role ?? 'teacher'}`,
      );
      await fs.rm(work, { recursive: true, force: true });
      await fs.mkdir(work, { recursive: true });
      const beat = heartbeatCursor<FineTuneHeartbeat>();
      // A heartbeat from before the first checkpoint carries progress only: nothing to resume.
      const cursor =
        beat?.checkpointRef === undefined || beat.step === undefined
          ? undefined
          : { checkpointRef: beat.checkpointRef, step: beat.step };
      let from = await localModelDir(store, deps.cacheDir, input.modelRef);
      let resume = false;
      let latest: FineTuneCursor | undefined = cursor;
      if (cursor) {
        from = path.join(work, `resume-${cursor.step}`);
        await store.materializeTree(cursor.checkpointRef, from);
        resume = true;
      }
      // As chat turns when the model is prompted with its chat template: trained as it is sampled.
      const prompting = promptingFor(from, loadTokenizer(from), input.chatTemplate);
      const result = await runFineTune({
        from,
        resume,
        outDir: path.join(work, 'out'),
        examples: examples.map((e) => prompting.example(e)),
        config: {
          steps: input.training.steps,
          epochs: input.training.epochs,
          learningRate: input.training.learningRate,
          batchSize: input.training.batchSize,
          gradientAccumulation: input.training.gradientAccumulation,
          warmupSteps: input.training.warmupSteps,
          weightDecay: input.training.weightDecay,
          checkpointEvery: input.training.checkpointEvery,
          ...(input.training.packing === undefined
            ? {}
            : { packing: input.training.packing === 'none' ? false : input.training.packing }),
          ...(input.training.maxSeqLen === undefined ? {} : { seqLen: input.training.maxSeqLen }),
          ...(input.training.method === undefined ? {} : { method: input.training.method }),
          ...(input.training.lora === undefined ? {} : { lora: input.training.lora }),
          ...(input.training.recompute === undefined ? {} : { recompute: input.training.recompute }),
          seed: input.seed,
        },
        threads: deps.threads,
        provider: input.executionProvider ?? 'cpu',
        allowCpuFallback: input.allowCpuFallback ?? false,
        signal: cancellationSignal(),
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
    });
  };
}
