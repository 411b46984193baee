import * as path from 'node:path';
import type { Command } from 'commander';

/** `lmsi model check DIR`: what a campaign's import checks, without Temporal, before any work. */
export function registerModelCheckCommand(model: Command): void {
  model
    .command('check')
    .description(
      'check a model folder for everything a campaign needs (architecture, weights, dtypes, tokenizer, chat template) and describe it',
    )
    .argument('<dir>', 'model folder (Hugging Face checkpoint, or an Optimum ONNX export)')
    .option('--sample-only', 'accept a folder lmsi can sample but not fine-tune (an ONNX export alone)')
    .option('--json', 'print the report as JSON')
    .action(async (dir: string, opts: { sampleOnly?: boolean; json?: boolean }) => {
      const { checkModel } = await import('../engine/checkpoint/check');
      const r = checkModel(path.resolve(dir), { training: !opts.sampleOnly });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return;
      }
      const millions =
        r.parameters === null ? '?' : `${(r.parameters / 1e6).toFixed(r.parameters < 1e7 ? 2 : 1)}M`;
      const lines = [
        `${r.dir}: ok`,
        `  model        ${r.architecture ?? '(no config.json)'}${r.family ? ` (${r.family})` : ''}, ${millions} parameters, ${r.dtype ?? 'no safetensors'}`,
        `  shape        ${r.layers ?? '?'} layers, ${r.heads ?? '?'} heads (${r.kvHeads ?? '?'} kv), head_dim ${r.headDim ?? '?'}, vocab ${r.vocabSize ?? '?'}`,
        `  context      ${r.contextLength ?? 'unknown'} positions${r.ropeScaling ? `, rope ${r.ropeScaling}` : ''}${r.slidingWindow ? `, sliding window ${r.slidingWindow}` : ''}`,
        `  weights      ${r.weightFiles.length > 0 ? r.weightFiles.join(', ') : '(none)'}`,
        `  sampling     ${r.onnx ? `ONNX export ${r.onnx}` : "the engine's inference graph, built from the weights"}`,
        `  tokenizer    ${r.tokenizer.vocabSize} ids, prefix [${r.tokenizer.prefixIds.join(', ')}], eos [${r.tokenizer.eosIds.join(', ')}], chat template ${r.tokenizer.chatTemplate ? 'yes' : 'no'}`,
        `  fine-tuning  ${r.trainable ? 'yes' : 'no (needs config.json of a supported family and safetensors weights)'}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
