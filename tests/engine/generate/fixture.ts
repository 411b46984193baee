import * as path from 'node:path';

/** The onnxruntime-genai tiny random Llama export (fp16 caches, contrib ops, external data). */
export const LLAMA_FP16 = path.resolve(
  __dirname,
  '../../../../shared/fixtures/onnx/ort-genai-tiny-random-LlamaForCausalLM-fp16',
);
