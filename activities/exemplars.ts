import { z } from 'zod';
import { generatePaths } from '../engine/generate';
import { zeroShotCotPrompt } from '../method/formats';
import { readJsonl } from '../method/load';
import { buildExemplarSets } from '../method/self-generated-exemplars';
import { voteOnQuestion, type VotedQuestion } from '../method/vote';
import type { Exemplar } from '../method/types';
import type {
  ExemplarSetsResult,
  GenerateExemplarsInput,
  GenerationHeartbeat,
  SnapshotFileInput,
} from '../contract';
import type { ActivityDeps } from './deps';
import { checkCancelled, heartbeat } from './context';
import { readQuestions, taskOf } from './dataset';
import { failingClearly } from './failures';
import { loadModelByRef } from './model-cache';
import { promptingFor } from './prompting';

export const ExemplarLine = z.object({
  question: z.string().min(1),
  rationale: z.string(),
  answer: z.string().min(1),
});

/** A file of exemplars ({question, rationale, answer} per line) becomes one template. */
export function makeSnapshotExemplars({ store }: ActivityDeps) {
  return async function snapshotExemplars(input: SnapshotFileInput): Promise<ExemplarSetsResult> {
    return failingClearly(async () => {
      const { records } = await readJsonl(input.file, ExemplarLine, {
        policy: 'fail-fast',
        accept: (e): Exemplar => ({
          ...e,
          question: /^Q:/.test(e.question) ? e.question : `Q: ${e.question}`,
        }),
      });
      const { ref } = await store.putJson([records]);
      return { ref, templates: 1, shots: records.length };
    });
  };
}

/**
 * The paper's self-generated few-shot CoT prompts: zero-shot CoT ("Let's think step by step.") on
 * unlabeled questions, majority vote, and the most confident questions' majority paths become the
 * exemplars of several templates.
 */
export function makeGenerateExemplars(deps: ActivityDeps) {
  return async function generateExemplars(input: GenerateExemplarsInput): Promise<ExemplarSetsResult> {
    return failingClearly(async () => {
      const { store } = deps;
      const task = taskOf(input.task);
      const questions = (await readQuestions(store, input.datasetRef, 0, input.candidates)).map((q) => ({
        ...q,
        gold: null,
      }));
      const model = await loadModelByRef(deps, input);
      const prompting = promptingFor(model.dir, model.tokenizer, input.sampling.chatTemplate);
      const voted: VotedQuestion[] = [];
      const perCall = 8;
      for (let i = 0; i < questions.length; i += perCall) {
        const chunk = questions.slice(i, i + perCall);
        const results = await generatePaths(model, {
          prompts: chunk.map((q) => ({ id: q.id, text: prompting.prompt(zeroShotCotPrompt(task, q)) })),
          n: input.sampling.m,
          temperature: input.sampling.temperature,
          topK: input.sampling.topK,
          topP: input.sampling.topP,
          maxNewTokens: input.sampling.maxNewTokens,
          stop: prompting.stop(input.sampling.stop),
          seed: input.seed,
          // A candidate whose prompt is longer than the model's context is not a candidate.
          onPromptSkipped: () => {},
        });
        chunk.forEach((q, j) => {
          if (results[j].length === 0) return;
          voted.push(
            voteOnQuestion(
              task,
              q,
              results[j].map((c, pathIndex) => ({
                questionId: q.id,
                pathIndex,
                text: c.text,
                sumLogprob: c.sumLogprob,
                finishReason: c.finishReason,
              })),
            ),
          );
        });
        heartbeat({ done: voted.length } satisfies GenerationHeartbeat);
        checkCancelled();
      }
      const sets = buildExemplarSets(voted, {
        task,
        templates: input.templates,
        shots: input.shots,
        seed: input.seed,
      });
      const { ref } = await store.putJson(sets);
      return { ref, templates: sets.length, shots: input.shots };
    });
  };
}
