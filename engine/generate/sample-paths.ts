import type * as ort from 'onnxruntime-node';
import { Rng, deriveSeed } from '../../method/rng';
import { chooseToken } from './choose-token';
import { type RunResult, decodeStep, prefill } from './decoder';
import { decodeCompletion } from './detokenize';
import { type CacheSlot, assembleCache } from './kv-cache';
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
}

export interface SamplePathsRequest extends SampleOptionsInput {
  /** Called once per prompt when its n completions are finished (awaited: persist them here). */
  onPromptDone?: (done: PromptDone) => void | Promise<void>;
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

interface Batch {
  rows: Row[];
  past: readonly ort.Tensor[];
  width: number;
}

/**
 * For every prompt, n sampled completions (the paper's m reasoning paths). Each prompt is run through
 * the model once; its cache is copied into the rows that sample from it, and the live rows of many
 * prompts decode together, one token per step, until each stops. Row (prompt, path) draws from its
 * own stream Rng(deriveSeed(seed, promptKey, path)), so results do not depend on maxBatchRows, on
 * the prompts' order or on how the prompts are split over calls.
 */
export async function samplePaths(
  model: GenerationModel,
  request: SamplePathsRequest,
): Promise<Completion[][]> {
  const { onPromptDone, ...rest } = request;
  const o = parseSampleOptions(rest);
  const processors = buildLogitsProcessors(o);
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
  const done: PromptDone[] = [];
  const logits = new Float32Array(model.logitsSize);

  const choose = (row: Row, source: RunResult, r: number) => {
    source.logits.read(r, logits);
    applyAll(processors, logits, row);
    const { tokenId, logprob } = chooseToken(logits, row.rng ? row.rng.next() : null);
    row.completionIds.push(tokenId);
    row.sumLogprob += logprob;
    for (const s of row.stoppers) {
      const reason = s.push(tokenId);
      row.finish ??= reason;
    }
    if (row.finish) finishRow(row);
  };
  const finishRow = (row: Row) => {
    const ids = prompts[row.prompt].ids;
    const text = decodeCompletion(model.tokenizer, ids, row.completionIds);
    results[row.prompt][row.path] = {
      text: row.finish === 'stop' ? cutAtStop(text, o.stop) : text,
      tokenIds: row.completionIds,
      finishReason: row.finish as FinishReason,
      sumLogprob: row.sumLogprob,
    };
    if (--remaining[row.prompt] === 0)
      done.push({ index: row.prompt, key: prompts[row.prompt].key, completions: results[row.prompt] });
  };
  const flushDone = async () => {
    for (const d of done.splice(0)) await onPromptDone?.(d);
  };

  let nextPrompt = 0;
  let nextPath = 0;
  let current = null as { prompt: number; result: RunResult } | null;
  let batches: Batch[] = [];
  for (;;) {
    const live = batches.reduce((s, b) => s + b.rows.length, 0);
    const joining: Row[] = [];
    while (live + joining.length < o.maxBatchRows && nextPrompt < prompts.length) {
      const p = prompts[nextPrompt];
      if (current?.prompt !== nextPrompt)
        current = { prompt: nextPrompt, result: await prefill(model, p.ids) };
      const row: Row = {
        prompt: nextPrompt,
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
    batches = o.mixLengths ? arrangeMixed(model, batches, joining) : arrangeByLength(model, batches, joining);
    await flushDone();
    if (batches.length === 0 && nextPrompt >= prompts.length) break;

    for (const b of batches) {
      const step = await decodeStep(
        model,
        b.past,
        b.width,
        b.rows.map((r) => r.completionIds[r.completionIds.length - 1]),
        b.rows.map((r) => r.slot.length),
      );
      b.past = step.present;
      b.width++;
      b.rows.forEach((row, r) => {
        row.slot = { tensors: step.present, row: r, width: b.width, length: row.slot.length + 1 };
        choose(row, step, r);
      });
    }
  }
  return results;
}

interface EncodedPrompt {
  key: string;
  ids: number[];
}

function encodePrompt(model: GenerationModel, p: Prompt, index: number): EncodedPrompt {
  const text = typeof p === 'string' ? p : p.text;
  const key = typeof p === 'string' ? p : (p.id ?? p.text);
  const ids = model.tokenizer.encode(text, { bos: true });
  if (ids.length === 0) throw new RangeError(`samplePaths: prompts.${index}: encodes to no tokens`);
  if (model.maxPositions !== null && ids.length >= model.maxPositions)
    throw new RangeError(
      `samplePaths: prompts.${index}: ${ids.length} tokens, but ${model.dir} takes at most ` +
        `${model.maxPositions} positions (config.json max_position_embeddings)`,
    );
  return { key, ids };
}

function applyAll(processors: readonly LogitsProcessor[], logits: Float32Array, row: RowHistory): void {
  for (const p of processors) p.apply(logits, row);
}

/** A batch of `rows` whose caches are copied out of wherever they are now. */
function buildBatch(model: GenerationModel, rows: Row[]): Batch {
  const width = Math.max(...rows.map((r) => r.slot.length));
  const past = assembleCache(
    model.signature,
    rows.map((r) => r.slot),
    width,
  );
  rows.forEach((r, i) => (r.slot = { tensors: past, row: i, width, length: r.slot.length }));
  return { rows, past, width };
}

/**
 * Batches of equal cache length only: a batch whose rows all survive and gain no one keeps its
 * tensors (the last step's present is the next step's past, no copy); otherwise it is rebuilt once.
 */
function arrangeByLength(model: GenerationModel, batches: Batch[], joining: Row[]): Batch[] {
  const byLength = new Map<number, { rows: Row[]; kept: Batch | null }>();
  for (const b of batches) {
    const rows = b.rows.filter((r) => !r.finish);
    if (rows.length > 0) byLength.set(b.width, { rows, kept: rows.length === b.rows.length ? b : null });
  }
  for (const row of joining) {
    const group = byLength.get(row.slot.length);
    if (group) {
      group.rows.push(row);
      group.kept = null;
    } else byLength.set(row.slot.length, { rows: [row], kept: null });
  }
  return [...byLength.values()].map((g) => g.kept ?? buildBatch(model, g.rows));
}

/** One left-padded batch for every live row. */
function arrangeMixed(model: GenerationModel, batches: Batch[], joining: Row[]): Batch[] {
  const old = batches[0];
  const rows = [...(old ? old.rows.filter((r) => !r.finish) : []), ...joining];
  if (rows.length === 0) return [];
  if (old && rows.length === old.rows.length) return [old];
  return [buildBatch(model, rows)];
}
