/**
 * node --import tsx bench/real-size/make-checkpoints.ts [smollm2-135m qwen2.5-0.5b llama-3.2-1b] [--out=DIR]
 *
 * The real-size checkpoints without Python, for machines that have no venv and cannot reach PyPI (a
 * lent GPU machine: bench/gpu): the published configurations in bench/real-size/configs/ (as
 * transformers wrote them for bench/real-models/make-checkpoints.sh), random weights from the engine's
 * initialisation saved in bfloat16, and the shared fixture's 32 000-token Llama tokenizer, into
 * tmp/real-models/<model>/ — the folder layout make-checkpoints.sh writes, so either maker serves
 * bench/real-size and bench/real-models. A complete folder is kept.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { saveCheckpoint } from '../../engine/checkpoint';
import { parseConfigJson } from '../../engine/checkpoint/model-config';
import { initParams, parameterCount } from '../../engine/model';
import { positionalArgs, stringArg } from '../args';

const ROOT = path.resolve(__dirname, '..', '..');
const CONFIGS = path.join(__dirname, 'configs');
const OUT = path.resolve(stringArg('out', path.join(ROOT, 'tmp', 'real-models')));
const TOKENIZER = path.join(
  ROOT,
  '..',
  'shared',
  'fixtures',
  'onnx',
  'ort-genai-tiny-random-LlamaForCausalLM-fp16',
);

const all = readdirSync(CONFIGS).map((f) => path.basename(f, '.json'));
const named = positionalArgs(['out']);
const models = named.length > 0 ? named : all;
for (const m of models)
  if (!all.includes(m)) throw new Error(`no bench/real-size/configs/${m}.json; models: ${all.join(', ')}`);

for (const [i, name] of models.entries()) {
  const dir = path.join(OUT, name);
  if (existsSync(path.join(dir, '.complete'))) {
    console.log(`${name}: kept (${dir})`);
    continue;
  }
  const configFile = path.join(CONFIGS, `${name}.json`);
  const configBytes = readFileSync(configFile);
  const config = parseConfigJson(JSON.parse(configBytes.toString('utf8')), configFile);
  const hf = JSON.parse(configBytes.toString('utf8')) as { bos_token_id: number; eos_token_id: number };
  const t = Date.now();
  const params = initParams(config, 1000 + i);
  saveCheckpoint(dir, {
    config,
    params,
    dtype: 'BF16',
    onnx: false,
    tokenizer: {
      tokenizerJson: JSON.parse(readFileSync(path.join(TOKENIZER, 'tokenizer.json'), 'utf8')) as Record<
        string,
        unknown
      >,
      tokenizerConfig: JSON.parse(
        readFileSync(path.join(TOKENIZER, 'tokenizer_config.json'), 'utf8'),
      ) as Record<string, unknown>,
    },
    sourceFiles: {
      'config.json': configBytes,
      'generation_config.json': Buffer.from(
        `${JSON.stringify({ bos_token_id: hf.bos_token_id, eos_token_id: hf.eos_token_id }, null, 2)}\n`,
      ),
    },
    extraFiles: { 'special_tokens_map.json': readFileSync(path.join(TOKENIZER, 'special_tokens_map.json')) },
  });
  writeFileSync(
    path.join(dir, 'bench-model.json'),
    `${JSON.stringify({ config: `bench/real-size/configs/${name}.json`, parameters: parameterCount(config), maker: 'bench/real-size/make-checkpoints.ts', seed: 1000 + i }, null, 2)}\n`,
  );
  writeFileSync(path.join(dir, '.complete'), '');
  console.log(
    `${name}: ${parameterCount(config)} parameters in ${Math.round((Date.now() - t) / 1000)} s (${dir})`,
  );
}
