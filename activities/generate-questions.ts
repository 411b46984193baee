import { generatePaths } from '../engine/generate';
import {
  dedupeQuestions,
  generatedQuestions,
  parseGeneratedQuestion,
  questionGenerationPrompt,
  QUESTION_STOP_STRINGS,
} from '../method/self-generated-questions';
import type { GeneratedQuestionsResult, GenerateQuestionsInput, GenerationHeartbeat } from '../contract';
import type { ActivityDeps } from './deps';
import { checkCancelled, heartbeat } from './context';
import { readQuestions, taskOf } from './dataset';
import { failingClearly } from './failures';
import { loadModelByRef } from './model-cache';

/**
 * The paper's self-generated questions: the model is shown a few questions of the pool and writes a
 * new one; lines that are not a question are discarded, duplicates (by normalised text) dropped, and
 * the rest join the unlabeled pool of this round.
 */
export function makeGenerateQuestions(deps: ActivityDeps) {
  return async function generateQuestions(input: GenerateQuestionsInput): Promise<GeneratedQuestionsResult> {
    return failingClearly(async () => {
      const { store } = deps;
      const task = taskOf(input.task);
      const pool = (await readQuestions(store, input.datasetRef)).map((q) => ({ ...q, gold: null }));
      const model = await loadModelByRef(deps, input);
      // As many shots as fit the model's context with room for the new question.
      const fits = (text: string) =>
        model.maxPositions === null ||
        model.tokenizer.encode(text, { bos: true }).length + input.maxNewTokens <= model.maxPositions;
      const prompts = Array.from({ length: input.count }, (_, i) => {
        for (let k = input.shots; k > 1; k--) {
          const text = questionGenerationPrompt(task, pool, { k, seed: `${input.seed}/${i}` }).prompt;
          if (fits(text)) return { id: `generate-${i}`, text };
        }
        return {
          id: `generate-${i}`,
          text: questionGenerationPrompt(task, pool, { k: 1, seed: `${input.seed}/${i}` }).prompt,
        };
      });
      const texts: string[] = [];
      let unparseable = 0;
      let tooLong = 0;
      const perCall = 16;
      for (let i = 0; i < prompts.length; i += perCall) {
        const results = await generatePaths(model, {
          prompts: prompts.slice(i, i + perCall),
          n: 1,
          temperature: input.temperature,
          maxNewTokens: input.maxNewTokens,
          stop: [...QUESTION_STOP_STRINGS],
          seed: input.seed,
          // Even one shot may not fit a small context: that prompt writes nothing (counted below).
          onPromptSkipped: () => void tooLong++,
        });
        for (const [completion] of results) {
          if (!completion) continue;
          const text = parseGeneratedQuestion(completion.text);
          if (text === null) unparseable++;
          else texts.push(text);
        }
        heartbeat({ done: Math.min(i + perCall, prompts.length) } satisfies GenerationHeartbeat);
        checkCancelled();
      }
      const { fresh, duplicates } = dedupeQuestions(
        texts,
        pool.map((q) => q.text),
      );
      const added = generatedQuestions(fresh, `generated/${input.campaignId}/round-${input.round}`);
      const { ref, count } = await store.putJsonl([...pool, ...added]);
      return {
        ref,
        count,
        sampled: prompts.length,
        added: added.length,
        unparseable,
        duplicates: duplicates.length,
        ...(tooLong > 0 ? { tooLong } : {}),
      };
    });
  };
}
