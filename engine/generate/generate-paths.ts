import type * as ort from 'onnxruntime-node';
import { Rng, deriveSeed } from '../../base/rng';
import { chooseToken } from './choose-token';
import { type RunResult, decodeStep, prefill } from './decoder';
import { decodeCompletion } from './detokenize';
import { type Batch, arrangeBatches } from './batching';
import {
  type StepsGraph,
  type StepsResult,
  decodeStepsSession,
  decodeStepsUnavailable,
  runDecodeSteps,
  truncationsOf,
  stepsGraphOf,
} from './decode-steps';
import type { CacheSlot } from './kv-cache';
import type { GenerationModel } from './load';
import { type Prompt, type SampleOptionsInput, parseSampleOptions } from './options';
import {
  type FinishReason,
  type LogitsProcessor,
  type RowHistory,
  type RowStopper,
  buildLogitsProcessors,
  buildStoppingCriteria,
  cutAtStop,
} from './processors';
import { newTokenBudget } from './processors/max-length';

export interface Completion {
  /** Text after the prompt, cut before the stop string when finishReason is 'stop'. */
  text: string;
  /** Chosen tokens, including the eos token or the token that completed a stop string. */
  tokenIds: number[];
  finishReason: FinishReason;
  /**
   * Sum over tokenIds of log p(token) under the processed distribution it was drawn from (after
   * repetition penalty, temperature, top-k, top-p, min-p). Greedy: under temperature 1 with the
   * other processors applied.
   */
  sumLogprob: number;
}

export interface PromptDone {
  index: number;
  key: string;
  completions: Completion[];
  /** The new tokens this prompt was allowed: maxNewTokens, or fewer where the model's context ends first. */
  maxNewTokens: number;
}

/** A prompt that was not sampled, and why. */
export interface PromptSkipped {
  index: number;
  key: string;
  /** The prompt leaves no room for one new token: prompt tokens + 1 > the model's max positions. */
  reason: 'prompt-longer-than-context';
  promptTokens: number;
  maxPositions: number;
}

export interface GeneratePathsRequest extends SampleOptionsInput {
  /** Called once per prompt when its n completions are finished (awaited: persist them here). */
  onPromptDone?: (done: PromptDone) => void | Promise<void>;
  /**
   * Given, a prompt longer than the model's context is skipped instead of failing the whole call:
   * this is called for it (awaited, before any sampling) and its entry in the result is empty.
   * Without it, such a prompt is a RangeError.
   */
  onPromptSkipped?: (skipped: PromptSkipped) => void | Promise<void>;
  /** Filled in with where the time went (for benchmarks; see README.md). */
  timings?: SampleTimings;
}

/** Milliseconds spent per phase, and counts, accumulated over a call. */
export interface SampleTimings {
  /** Prompts through the model (batch 1). */
  prefillMs: number;
  /** Decode steps: building feeds and session.run (which includes copying its outputs into JS). */
  decodeRunMs: number;
  /** Copying caches into new batches when rows join or leave. */
  cacheCopyMs: number;
  /** Logits to float32, processors, the draw, stopping criteria (stop-string decoding included). */
  samplingMs: number;
  /** Decoding finished completions' text. */
  finishMs: number;
  prefills: number;
  decodeRuns: number;
  /** Rows summed over decode runs times steps per run: tokens decoded with the cache. */
  decodedRows: number;
  /** Decode steps per session.run actually used (1: the one-step loop). */
  stepsPerRun: number;
  /** Why stepsPerRun > 1 was asked for and the one-step loop ran, when that happened. */
  stepsFallbackReason: string | null;
  /**
   * Which graph ran the several steps per run: the engine's k-step graph, or the decoder's own graph
   * in a Loop with the draw after its logits (an export the engine did not build); null in the
   * one-step loop.
   */
  stepsGraph: StepsGraph | null;
}

export function emptyTimings(): SampleTimings {
  return {
    prefillMs: 0,
    decodeRunMs: 0,
    cacheCopyMs: 0,
    samplingMs: 0,
    finishMs: 0,
    prefills: 0,
    decodeRuns: 0,
    decodedRows: 0,
    stepsPerRun: 1,
    stepsFallbackReason: null,
    stepsGraph: null,
  };
}

interface Row extends RowHistory {
  prompt: number;
  path: number;
  rng: Rng | null;
  completionIds: number[];
  sumLogprob: number;
  stoppers: RowStopper[];
  finish: FinishReason | null;
  /** Where its cache is: a prefill's output, or a batch's last present. */
  slot: CacheSlot;
}

/**
 * For every prompt, n sampled completions (the paper's m reasoning paths). Each prompt is run through
 * the model once; its cache is copied into the rows that sample from it, and the live rows of many
 * prompts decode together, one token per step, until each stops. Row (prompt, path) draws from its
 * own stream Rng(deriveSeed(seed, promptKey, path)), so results do not depend on maxBatchRows, on
 * the prompts' order or on how the prompts are split over calls.
 */
export async function generatePaths(
  model: GenerationModel,
  request: GeneratePathsRequest,
): Promise<Completion[][]> {
  const { onPromptDone, onPromptSkipped, timings: reported, ...rest } = request;
  const t = reported ?? emptyTimings();
  const o = parseSampleOptions(rest);
  const processors = buildLogitsProcessors({
    ...o,
    tokenizerVocabSize: model.tokenizer.vocabSize,
    logitsSize: model.logitsSize,
  });
  const criteria = buildStoppingCriteria({
    maxNewTokens: o.maxNewTokens,
    maxPositions: model.maxPositions,
    eosIds: model.eosIds,
    stop: o.stop,
    tokenizer: model.tokenizer,
  });
  const prompts = o.prompts.map((p, i) => encodePrompt(model, p, i));
  const results: Completion[][] = prompts.map(() => []);
  const remaining = prompts.map(() => o.n);
  const budget = (ids: readonly number[]) => newTokenBudget(ids.length, o.maxNewTokens, model.maxPositions);
  const tooLong = prompts.flatMap((p, index) => (budget(p.ids) < 1 ? [index] : []));
  if (tooLong.length > 0 && !onPromptSkipped) {
    const p = prompts[tooLong[0]];
    throw new RangeError(
      `generatePaths: prompts.${tooLong[0]}: ${p.ids.length} tokens, but ${model.dir} takes at most ` +
        `${model.maxPositions} positions (config.json max_position_embeddings)`,
    );
  }
  for (const index of tooLong) {
    remaining[index] = 0;
    await onPromptSkipped?.({
      index,
      key: prompts[index].key,
      reason: 'prompt-longer-than-context',
      promptTokens: prompts[index].ids.length,
      maxPositions: model.maxPositions!,
    });
  }
  const done: PromptDone[] = [];
  const logits = new Float32Array(model.logitsSize);

  const accept = (row: Row, tokenId: number, logprob: number) => {
    row.completionIds.push(tokenId);
    row.sumLogprob += logprob;
    for (const s of row.stoppers) {
      const reason = s.push(tokenId);
      row.finish ??= reason;
    }
  };
  const choose = (row: Row, source: RunResult, r: number) => {
    const t0 = performance.now();
    source.logits.read(r, logits);
    applyAll(processors, logits, row);
    const { tokenId, logprob } = chooseToken(logits, row.rng ? row.rng.next() : null);
    accept(row, tokenId, logprob);
    t.samplingMs += performance.now() - t0;
    if (row.finish) finishRow(row);
  };
  // Steps that ran inside the graph: the host replays each row's choices in order and cuts the row
  // where it stops (its later tokens in the run, and its uniforms, are discarded).
  const replay = (row: Row, run: StepsResult, r: number, steps: number) => {
    const t0 = performance.now();
    for (let j = r * steps; j < (r + 1) * steps && !row.finish; j++) {
      const logTotal = Math.log(run.totals[j]);
      // As chooseToken computes it, from the same float32 logits and float64 total.
      const logprob = row.rng ? run.chosenLogits[j] - run.maxLogits[j] - logTotal : -logTotal;
      accept(row, Number(run.tokens[j]), logprob);
    }
    t.samplingMs += performance.now() - t0;
    if (row.finish) finishRow(row);
  };
  const finishRow = (row: Row) => {
    const t0 = performance.now();
    const ids = prompts[row.prompt].ids;
    const text = decodeCompletion(model.tokenizer, ids, row.completionIds);
    results[row.prompt][row.path] = {
      text: row.finish === 'stop' ? cutAtStop(text, o.stop) : text,
      tokenIds: row.completionIds,
      finishReason: row.finish as FinishReason,
      sumLogprob: row.sumLogprob,
    };
    t.finishMs += performance.now() - t0;
    if (--remaining[row.prompt] === 0) {
      const { key, ids: promptIds } = prompts[row.prompt];
      done.push({
        index: row.prompt,
        key,
        completions: results[row.prompt],
        maxNewTokens: budget(promptIds),
      });
    }
  };
  const flushDone = async () => {
    for (const d of done.splice(0)) await onPromptDone?.(d);
  };

  t.stepsFallbackReason = o.stepsPerRun > 1 ? decodeStepsUnavailable(model, o) : null;
  const steps = t.stepsFallbackReason === null ? o.stepsPerRun : 1;
  t.stepsPerRun = steps;
  t.stepsGraph = steps > 1 ? stepsGraphOf(model) : null;
  const stepsSession = steps > 1 ? await decodeStepsSession(model, steps, truncationsOf(o)) : null;
  const maxBatchRows = o.maxBatchRows ?? (steps > 1 ? 256 : 64);

  // Prompts are admitted shortest first (stable): rows join a batch only with rows whose caches
  // have the same length, so admitting equal-length prompts together makes batches of many prompts
  // instead of one each (measured in README.md, point 3). The samples do not change: a row's
  // numbers depend on neither its batch nor the order (see README.md).
  const admission = prompts
    .map((_, i) => i)
    .filter((i) => remaining[i] > 0)
    .sort((a, b) => prompts[a].ids.length - prompts[b].ids.length);
  let nextPrompt = 0;
  let nextPath = 0;
  let current = null as { prompt: number; result: RunResult } | null;
  let batches: Batch<Row>[] = [];
  for (;;) {
    const live = batches.reduce((s, b) => s + b.rows.filter((r) => !r.finish).length, 0);
    // Rows join in chunks of about half a prompt's paths: every admission copies caches, and in
    // equal-length batching a lone joiner would be a batch of its own.
    const rowsLeft = (admission.length - nextPrompt) * o.n - nextPath;
    const chunk = Math.min(rowsLeft, Math.ceil(Math.min(o.n, maxBatchRows) / 2));
    const admit = live === 0 || maxBatchRows - live >= chunk ? maxBatchRows - live : 0;
    const joining: Row[] = [];
    while (joining.length < admit && nextPrompt < admission.length) {
      const index = admission[nextPrompt];
      const p = prompts[index];
      if (current?.prompt !== index) {
        const t0 = performance.now();
        current = { prompt: index, result: await prefill(model, p.ids) };
        t.prefillMs += performance.now() - t0;
        t.prefills++;
      }
      const row: Row = {
        prompt: index,
        path: nextPath,
        rng: o.temperature > 0 ? new Rng(deriveSeed(o.seed, p.key, nextPath)) : null,
        promptIds: p.ids,
        completionIds: [],
        sumLogprob: 0,
        stoppers: criteria.map((c) => c.start(p.ids)),
        finish: null,
        slot: { tensors: current.result.present, row: 0, width: p.ids.length, length: p.ids.length },
      };
      choose(row, current.result, 0);
      if (!row.finish) joining.push(row);
      if (++nextPath === o.n) {
        nextPath = 0;
        nextPrompt++;
      }
    }
    const t0 = performance.now();
    batches = arrangeBatches(model.signature, batches, joining, o.mixLengths);
    t.cacheCopyMs += performance.now() - t0;
    await flushDone();
    if (batches.length === 0 && nextPrompt >= admission.length) break;

    for (const b of batches) {
      const t1 = performance.now();
      const lastTokens = b.rows.map((r) => r.completionIds[r.completionIds.length - 1]);
      const lengths = b.rows.map((r) => r.slot.length);
      // The position of each row's last token: for a live row its cache length; a finished row
      // repeats its last token there until its batch compacts, never running past the model's
      // position table.
      const positions = b.rows.map((r) => r.promptIds.length + r.completionIds.length - 1);
      if (stepsSession) {
        const uniforms = new Float64Array(b.rows.length * steps).fill(-1);
        b.rows.forEach((row, r) => {
          if (row.rng && !row.finish)
            for (let j = 0; j < steps; j++) uniforms[r * steps + j] = row.rng.next();
        });
        const run = await runDecodeSteps(model, stepsSession, steps, {
          past: b.past,
          width: b.width,
          tokens: lastTokens,
          lengths,
          positions,
          uniforms,
          temperature: o.temperature,
          topK: o.topK,
          topP: o.topP,
          minP: o.minP,
        });
        t.decodeRunMs += performance.now() - t1;
        advance(b, run.present, steps);
        b.rows.forEach((row, r) => {
          if (!row.finish) replay(row, run, r, steps);
        });
      } else {
        const step = await decodeStep(model, b.past, b.width, lastTokens, lengths, positions);
        t.decodeRunMs += performance.now() - t1;
        advance(b, step.present, 1);
        b.rows.forEach((row, r) => {
          if (!row.finish) choose(row, step, r);
        });
      }
    }
  }
  return results;

  function advance(b: Batch<Row>, present: ort.Tensor[], by: number) {
    t.decodeRuns++;
    t.decodedRows += b.rows.length * by;
    b.past = present;
    b.width += by;
    b.rows.forEach((row, r) => {
      row.slot = { tensors: present, row: r, width: b.width, length: row.slot.length + by };
    });
  }
}

interface EncodedPrompt {
  key: string;
  ids: number[];
}

function encodePrompt(model: GenerationModel, p: Prompt, index: number): EncodedPrompt {
  const text = typeof p === 'string' ? p : p.text;
  const key = typeof p === 'string' ? p : (p.id ?? p.text);
  const ids = model.tokenizer.encode(text, { bos: true });
  if (ids.length === 0) throw new RangeError(`generatePaths: prompts.${index}: encodes to no tokens`);
  return { key, ids };
}

function applyAll(processors: readonly LogitsProcessor[], logits: Float32Array, row: RowHistory): void {
  for (const p of processors) p.apply(logits, row);
}
