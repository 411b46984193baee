import { z } from 'zod';

/** A prompt: its text, with an id that names its random streams (default: the text itself). */
export const Prompt = z.union([z.string(), z.object({ id: z.string().min(1).optional(), text: z.string() })]);
export type Prompt = z.infer<typeof Prompt>;

export const SampleOptions = z
  .object({
    prompts: z.array(Prompt),
    /** Completions per prompt (the paper's m). */
    n: z.number().int().min(1),
    /** 0 = greedy. */
    temperature: z.number().min(0).max(1e6),
    /** Keep the k most likely tokens; 0 = off. */
    topK: z.number().int().min(0).default(0),
    /** Nucleus mass; 1 = off. */
    topP: z.number().gt(0).max(1).default(1),
    /** Keep tokens at least minP times as likely as the top one; 0 = off. */
    minP: z.number().min(0).max(1).default(0),
    /** CTRL penalty on tokens already present; 1 = off. */
    repetitionPenalty: z.number().gt(0).max(1e6).default(1),
    maxNewTokens: z.number().int().min(1),
    /** A completion ends where one of these first appears; the text excludes it. */
    stop: z.array(z.string().min(1)).default([]),
    seed: z.union([z.number().int(), z.string()]),
    /**
     * Most rows decoded at once (rows of many prompts share a batch). Default: 256 when several
     * steps run per session.run, 64 in the one-step loop (whose outputs cross into JS every step,
     * so larger batches do not pay there; README.md has the measurements).
     */
    maxBatchRows: z.number().int().min(1).optional(),
    /**
     * false (default): a batch holds only rows whose caches have the same length, so no row is ever
     * padded and its logits are bit-identical to batch-1 decoding on CPU: samples do not depend on
     * batch size, order or restarts. true: rows of every length share one left-padded batch (fewer
     * runs); padding changes the last bits of float32 attention sums, so a sample can differ from
     * batch-1 decoding where a draw falls that close to a boundary.
     */
    mixLengths: z.boolean().default(false),
    /**
     * Decode steps per session.run where the decoder is the engine's graph of the folder's
     * config.json and safetensors (our checkpoints, Hugging Face folders without an ONNX export):
     * the cache stays inside onnxruntime between them and the draw happens in the graph; see
     * README.md for the measurements behind the default. 1, or a model or a processor the
     * decode-steps graph does not cover, runs the one-step loop.
     */
    stepsPerRun: z.number().int().min(1).max(64).default(8),
  })
  .strict();

export type SampleOptionsInput = z.input<typeof SampleOptions>;
export type SampleOptions = z.output<typeof SampleOptions>;

export function parseSampleOptions(o: unknown): SampleOptions {
  const parsed = SampleOptions.safeParse(o);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`generatePaths: ${issue.path.join('.') || 'options'}: ${issue.message}`);
  }
  return parsed.data;
}
