import { LlamaConfig } from '../model/config';
import { initParams } from '../model/params';
import { type TokenizerFiles, buildCharTokenizerFiles } from '../tokenizer/char-tokenizer';
import { saveCheckpoint } from './checkpoint';

export interface BaseModelOptions {
  /** Model config (zod-validated; omitted fields take the embedded model's defaults). */
  config: Partial<LlamaConfig>;
  /** Default: the built-in character tokenizer. */
  tokenizerFiles?: TokenizerFiles;
  /** Seed of the initial weights. */
  seed: number;
  dir: string;
}

/** Writes a freshly initialised checkpoint (no optimiser state): what training from scratch starts from. */
export function createBaseModel(opts: BaseModelOptions): string {
  const config = LlamaConfig.parse(opts.config);
  saveCheckpoint(opts.dir, {
    config,
    params: initParams(config, opts.seed),
    tokenizer: opts.tokenizerFiles ?? buildCharTokenizerFiles(),
  });
  return opts.dir;
}
