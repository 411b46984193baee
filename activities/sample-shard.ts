import { createHash } from 'node:crypto';
import { generatePaths as sampleWithModel, type Completion, type GenerationModel } from '../engine/generate';
import type { PromptDone, PromptSkipped } from '../engine/generate/generate-paths';
import type {
  ContextNotes,
  EvaluationShardInput,
  QuestionEvaluation,
  QuestionSamples,
  ShardCursor,
  ShardInput,
  ShardResult,
  SkippedPrompt,
  StoredPath,
} from '../contract';
import type { ActivityDeps } from './deps';
import { checkCancelled, heartbeat, heartbeatCursor } from './context';
import { readQuestions, samplingPrompt, taskOf } from './dataset';
import { failingClearly } from './failures';
import { loadModelByRef } from './model-cache';
import { type Prompting, promptingFor } from './prompting';
import type { Exemplar } from '../method/types';

function storedPaths(completions: Completion[]): StoredPath[] {
  return completions.map((c, pathIndex) => ({
    pathIndex,
    text: c.text,
    sumLogprob: c.sumLogprob,
    finishReason: c.finishReason,
    tokens: c.tokenIds.length,
  }));
}

/**
 * Samples m paths for each question of a shard, appending each finished question to the shard's
 * draft (fsynced) and heartbeating the count. A retry reads the draft (and logs the heartbeat cursor)
 * and samples only the questions that are not in it yet; since every path's random stream is derived
 * from (seed, question id, path index), the resumed shard is byte-identical to an uninterrupted one.
 */
async function runShard<R extends ContextNotes & { questionId: string }>(
  deps: ActivityDeps,
  input: ShardInput,
  kind: 'sample' | 'eval',
  sampleChunk: (
    model: GenerationModel,
    prompts: { id: string; text: string }[],
    persist: (record: R) => Promise<void>,
    prompting: Prompting,
  ) => Promise<void>,
  countPaths: (r: R) => StoredPath[],
): Promise<ShardResult> {
  const { store } = deps;
  const draft = shardDraftName(kind, input);
  const task = taskOf(input.task);
  const questions = await readQuestions(store, input.datasetRef, input.start, input.end);
  const exemplarSets = input.exemplarsRef ? await store.getJson<Exemplar[][]>(input.exemplarsRef) : [];

  // Sealed by an attempt whose completion never reached Temporal (a server outage): its result
  // stands, and its draft is gone, so return it rather than sample the shard again.
  const sealed = await store.getNamed<ShardResult>(draft);
  if (sealed !== undefined && (await store.has(sealed.ref))) return sealed;

  const finished = new Map((await store.readDraft<R>(draft)).map((r) => [r.questionId, r]));
  const resumedQuestions = finished.size;
  const cursor = heartbeatCursor<ShardCursor>();
  if (cursor !== undefined && cursor.done > finished.size) {
    throw new Error(
      `shard draft ${draft} holds ${finished.size} questions but the last heartbeat said ${cursor.done}`,
    );
  }
  heartbeat({ done: finished.size } satisfies ShardCursor);

  const todo = questions.filter((q) => !finished.has(q.id));
  if (todo.length > 0) {
    const model = await loadModelByRef(deps, input);
    const prompting = promptingFor(model.dir, model.tokenizer, input.sampling.chatTemplate);
    // Fewest prompt tokens first, counted by the model's own tokenizer (as the sampler counts them):
    // the sampler batches only equal-length prompts together, so a call's prompts share batches
    // when they have equal lengths. Calls stay small (8 prompts by default) so questions are
    // persisted as they finish, not all at the end of a shard whose rows fit in one batch. Samples
    // do not depend on the order.
    const prompts = todo
      .map((q) => {
        const text = prompting.prompt(samplingPrompt(task, q, input.prompt, exemplarSets, input.seed));
        return { id: q.id, text, tokens: model.tokenizer.encode(text, { bos: true }).length };
      })
      .sort((a, b) => a.tokens - b.tokens)
      .map(({ id, text }) => ({ id, text }));
    const perCall = input.promptsPerCall ?? 8;
    for (let i = 0; i < prompts.length; i += perCall) {
      const chunk = prompts.slice(i, i + perCall);
      await sampleChunk(
        model,
        chunk,
        async (record) => {
          await store.appendDraft(draft, [record]);
          finished.set(record.questionId, record);
          heartbeat({ done: finished.size } satisfies ShardCursor);
          // Persisted first: a cancellation between questions loses nothing finished.
          checkCancelled();
        },
        prompting,
      );
      checkCancelled();
    }
  }

  // Sealed in the dataset's order, whatever order the questions finished in.
  const all = questions.map((q) => finished.get(q.id)!);
  const records = all.filter((r) => !r.skipped);
  const skipped = all.flatMap((r) => (r.skipped ? [{ questionId: r.questionId, ...r.skipped }] : []));
  const clippedTo = records.flatMap((r) =>
    r.clippedMaxNewTokens === undefined ? [] : [r.clippedMaxNewTokens],
  );
  const { ref } = await store.putJsonl(records);
  const finishReasons = { stop: 0, eos: 0, length: 0 };
  let paths = 0;
  for (const r of records) {
    for (const p of countPaths(r)) {
      finishReasons[p.finishReason]++;
      paths++;
    }
  }
  const result: ShardResult = {
    ref,
    questions: records.length,
    paths,
    finishReasons,
    resumedQuestions,
    skipped,
    clipped:
      clippedTo.length > 0 ? { questions: clippedTo.length, fewestNewTokens: Math.min(...clippedTo) } : null,
  };
  // The result is recorded under the draft's name before the draft goes, so a retry finds one or the other.
  await store.putNamed(draft, result);
  await store.removeDraft(draft);
  return result;
}

/**
 * A shard's draft is named by everything that determines its samples (model, questions, prompt,
 * sampling, seed), not by campaign or attempt: a retry anywhere finds it, and a new campaign that
 * reuses a name with another model cannot pick up stale samples.
 */
export function shardDraftName(kind: 'sample' | 'eval', input: ShardInput): string {
  const {
    campaignId: _c,
    round: _r,
    shard: _s,
    promptsPerCall: _p,
    ...determining
  } = input as EvaluationShardInput;
  const key = createHash('sha256').update(JSON.stringify(determining)).digest('hex').slice(0, 40);
  return `shards/${kind}-${key}`;
}

function samplerOptions(input: ShardInput, prompting: Prompting) {
  const s = input.sampling;
  return {
    temperature: s.temperature,
    topK: s.topK,
    topP: s.topP,
    maxNewTokens: s.maxNewTokens,
    stop: prompting.stop(s.stop),
  };
}

/** A question the sampler skipped (its prompt is longer than the model's context), as a draft line notes it. */
function skippedNote(s: PromptSkipped): { skipped: SkippedPrompt } {
  return { skipped: { reason: s.reason, promptTokens: s.promptTokens, maxPositions: s.maxPositions } };
}

/** The new tokens a question's paths were allowed, noted only when the context clipped maxNewTokens. */
function clippedNote(input: ShardInput, done: PromptDone): { clippedMaxNewTokens?: number } {
  return done.maxNewTokens < input.sampling.maxNewTokens ? { clippedMaxNewTokens: done.maxNewTokens } : {};
}

/** The paper's step 1 for one shard: m chain-of-thought paths per unlabeled question. */
export function makeSamplePaths(deps: ActivityDeps) {
  return async function samplePaths(input: ShardInput): Promise<ShardResult> {
    return failingClearly(() =>
      runShard<QuestionSamples>(
        deps,
        input,
        'sample',
        async (model, prompts, persist, prompting) => {
          const byId = new Map(prompts.map((p) => [p.id, p.text]));
          await sampleWithModel(model, {
            prompts,
            n: input.sampling.m,
            seed: input.seed,
            ...samplerOptions(input, prompting),
            onPromptDone: (done) =>
              persist({
                questionId: done.key,
                prompt: byId.get(done.key)!,
                paths: storedPaths(done.completions),
                ...clippedNote(input, done),
              }),
            // A prompt longer than the context is noted and skipped: never the campaign's failure.
            onPromptSkipped: (s) =>
              persist({ questionId: s.key, prompt: byId.get(s.key)!, paths: [], ...skippedNote(s) }),
          });
        },
        (r) => r.paths,
      ),
    );
  };
}

/** Evaluation for one shard of labeled questions: a greedy path and m sampled paths each. */
export function makeEvaluateShard(deps: ActivityDeps) {
  return async function evaluateShard(input: EvaluationShardInput): Promise<ShardResult> {
    return failingClearly(() =>
      runShard<QuestionEvaluation>(
        deps,
        input,
        'eval',
        async (model, prompts, persist, prompting) => {
          const greedy = new Map<string, StoredPath>();
          if (input.greedy) {
            const results = await sampleWithModel(model, {
              prompts,
              n: 1,
              seed: input.seed,
              ...samplerOptions(input, prompting),
              temperature: 0,
              // Noted by the sampled paths' call below, which skips the same prompts.
              onPromptSkipped: () => {},
            });
            prompts.forEach((p, i) => {
              if (results[i].length > 0) greedy.set(p.id, storedPaths(results[i])[0]);
            });
          }
          await sampleWithModel(model, {
            prompts,
            n: input.sampling.m,
            seed: input.seed,
            ...samplerOptions(input, prompting),
            onPromptDone: (done) =>
              persist({
                questionId: done.key,
                greedy: greedy.get(done.key) ?? null,
                paths: storedPaths(done.completions),
                ...clippedNote(input, done),
              }),
            onPromptSkipped: (s) =>
              persist({ questionId: s.key, greedy: null, paths: [], ...skippedNote(s) }),
          });
        },
        (r) => r.paths,
      ),
    );
  };
}
