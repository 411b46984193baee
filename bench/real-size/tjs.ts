/**
 * The transformers.js side of bench/real-size, as a child process:
 *
 *   node --import tsx bench/real-size/tjs.ts '{"model": DIR, "graphCacheDir": DIR, "workDir": DIR,
 *     "prompts": [...], "n": 16, "maxNewTokens": 32, "temperature": 0.7, "threads": 2, "reps": 2,
 *     "warmup": 1}' OUT.json
 *
 * transformers.js loads an ONNX decoder in Optimum's convention from `onnx/model.onnx`; a Hugging Face
 * folder of safetensors has none, so it gets the one lmsi samples with (the engine's graph built from
 * the same weights, with its weights in `model.onnx_data`), linked into a folder beside the model's
 * config and tokenizer files. Both then run the same graph: the difference is the sampling loop around
 * it. Sampling is transformers.js's `generate` with do_sample, top_k 0, a batch of the prompt repeated
 * n times per prompt (its num_return_sequences still returns one sequence per prompt when sampling).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decoderFile } from '../../engine/generate/load';

interface TjsArgs {
  model: string;
  graphCacheDir: string;
  workDir: string;
  prompts: string[];
  n: number;
  maxNewTokens: number;
  temperature: number;
  threads: number;
  reps: number;
  warmup: number;
}

/** A folder transformers.js loads: the model's json files and the engine's graph, all linked. */
function tjsFolder(a: TjsArgs): string {
  const dir = path.join(a.workDir, path.basename(a.model));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const f of readdirSync(a.model).filter((f) => f.endsWith('.json')))
    symlinkSync(path.join(a.model, f), path.join(dir, f));
  const onnx = decoderFile(a.model, a.graphCacheDir);
  symlinkSync(onnx, path.join(dir, 'onnx', 'model.onnx'));
  if (existsSync(`${onnx}_data`)) symlinkSync(`${onnx}_data`, path.join(dir, 'onnx', 'model.onnx_data'));
  return dir;
}

async function main() {
  const [json, outFile] = process.argv.slice(2);
  const a = JSON.parse(json) as TjsArgs;
  const dir = tjsFolder(a);
  const t = await import('@huggingface/transformers');
  t.env.allowRemoteModels = false;
  t.env.localModelPath = path.dirname(dir);
  const name = path.basename(dir);
  let started = performance.now();
  const tokenizer = await t.AutoTokenizer.from_pretrained(name, { local_files_only: true });
  const model = await t.AutoModelForCausalLM.from_pretrained(name, {
    local_files_only: true,
    dtype: 'fp32',
    device: 'cpu',
    use_external_data_format: existsSync(path.join(dir, 'onnx', 'model.onnx_data')),
    session_options: { intraOpNumThreads: a.threads, interOpNumThreads: 1 },
  });
  const loadSeconds = (performance.now() - started) / 1000;
  const config = model.generation_config as { eos_token_id?: number | number[] } | null;
  const eosList = config?.eos_token_id ?? [];
  const eos = new Set(Array.isArray(eosList) ? eosList : [eosList]);
  const sampling = { do_sample: true, temperature: a.temperature, top_k: 0, max_new_tokens: a.maxNewTokens };
  const once = async () => {
    started = performance.now();
    let tokens = 0;
    for (const prompt of a.prompts) {
      const inputs = tokenizer(Array.from({ length: a.n }, () => prompt));
      const out = (await model.generate({ ...inputs, ...sampling })) as { tolist(): bigint[][] };
      const width = inputs.input_ids.dims[1];
      for (const row of out.tolist()) {
        const fresh = row.slice(width).map(Number);
        const end = fresh.findIndex((id) => eos.has(id));
        tokens += end < 0 ? fresh.length : end + 1;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      newTokens: tokens,
      seconds: +seconds.toFixed(2),
      tokensPerSecond: +(tokens / seconds).toFixed(2),
    };
  };
  for (let i = 0; i < a.warmup; i++) await once();
  const reps = [];
  for (let i = 0; i < a.reps; i++) reps.push(await once());
  await model.dispose();
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(
    outFile,
    JSON.stringify(
      {
        ok: true,
        version: t.env.version,
        loadSeconds: +loadSeconds.toFixed(2),
        paths: a.n * a.prompts.length,
        reps,
      },
      null,
      2,
    ),
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    const [, outFile] = process.argv.slice(2);
    if (outFile)
      writeFileSync(
        outFile,
        JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) }),
      );
    console.error(e);
    process.exit(1);
  },
);
