import { z } from 'zod';
import { readJsonl } from '../method/load';
import { mixedFormats } from '../method/mixed-formats';
import { chooseReplay } from '../method/replay';
import type { AnsweredPath } from '../method/vote';
import type { Exemplar } from '../method/types';
import type {
  BuildTrainingSetInput,
  ReplaySnapshot,
  SnapshotFileInput,
  TrainingRecord,
  TrainingSetResult,
} from '../contract';
import type { ActivityDeps } from './deps';
import { readQuestions, taskOf } from './dataset';
import { failingClearly } from './failures';

export const ReplayExample = z.object({ prompt: z.string(), completion: z.string().min(1) });

/**
 * The paper's step 4: each kept path becomes one example per mixed format (few-shot CoT, few-shot
 * direct, zero-shot CoT, zero-shot direct). Optionally replays labeled seed examples, which were
 * already used to make the base model (the round itself uses no label).
 */
export function makeBuildTrainingSet({ store }: ActivityDeps) {
  return async function buildTrainingSet(input: BuildTrainingSetInput): Promise<TrainingSetResult> {
    return failingClearly(async () => {
      const task = taskOf(input.task);
      const kept: AnsweredPath[] = [];
      for await (const p of store.readJsonl<AnsweredPath>(input.keptRef)) kept.push(p);
      const questions = (await readQuestions(store, input.datasetRef)).map((q) => ({ ...q, gold: null }));
      const exemplars = input.exemplarsRef ? await store.getJson<Exemplar[][]>(input.exemplarsRef) : [];
      const examples: TrainingRecord[] = mixedFormats(kept, input.formats, {
        task,
        questions,
        exemplars,
        seed: input.seed,
      });
      let replayed = 0;
      if (input.replayRef && input.replayRatio > 0 && examples.length > 0) {
        const pool: { prompt: string; completion: string }[] = [];
        for await (const e of store.readJsonl<{ prompt: string; completion: string }>(input.replayRef))
          pool.push(e);
        const chosen = chooseReplay(pool.length, examples.length, input.replayRatio, input.seed);
        for (const i of chosen) {
          examples.push({ ...pool[i], format: 'replay', questionId: `replay:${i}`, pathId: `replay:${i}` });
        }
        replayed = chosen.length;
      }
      const perFormat: Record<string, number> = {};
      for (const e of examples) perFormat[e.format] = (perFormat[e.format] ?? 0) + 1;
      const { ref } = await store.putJsonl(examples);
      return { ref, examples: examples.length, perFormat, replayed };
    });
  };
}

/** Validates a replay file line by line (file:line errors) and snapshots it into the store. */
export function makeSnapshotReplayExamples({ store }: ActivityDeps) {
  return async function snapshotReplayExamples(input: SnapshotFileInput): Promise<ReplaySnapshot> {
    return failingClearly(async () => {
      const { records } = await readJsonl(input.file, ReplayExample, {
        policy: 'fail-fast',
        accept: (value) => value,
      });
      const { ref, count } = await store.putJsonl(records);
      return { ref, count };
    });
  };
}
