import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { chatTemplateMode } from './model-commands';

const int = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
};
const float = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
};

interface FinetuneOptions {
  model: string;
  data: string;
  out: string;
  config?: string;
  epochs?: number;
  steps?: number;
  learningRate?: number;
  batchSize?: number;
  gradientAccumulation?: number;
  warmupSteps?: number;
  weightDecay?: number;
  checkpointEvery?: number;
  packing?: 'best-fit' | 'next-fit' | 'none';
  method?: 'full' | 'lora';
  loraRank?: number;
  loraAlpha?: number;
  loraDropout?: number;
  loraTargets?: string[];
  seqLen?: number;
  recompute?: boolean;
  seed: string;
  evalData?: string;
  threads?: number;
  executionProvider: 'cpu' | 'cuda';
  allowCpuFallback?: boolean;
  resume?: boolean;
  chatTemplate: 'auto' | 'none';
  json?: boolean;
}

/**
 * `lmsi finetune`: the campaign's fine-tuning step on a JSONL of {prompt, completion} lines, without
 * Temporal, so a user can try a model and a dataset before starting a campaign. Training options as
 * the campaign's `training` section (`--config`), each overridable by a flag. The fine-tuned model
 * (a drop-in replacement for --model: same config, tokenizer files, tensor names and dtype) goes to
 * --out; the run's checkpoints go to --out's sibling `<out>.run/`, from which --resume continues.
 */
export function registerFinetuneCommand(program: Command): void {
  program
    .command('finetune')
    .description(
      'fine-tune a model folder on prompt/completion JSONL (no Temporal): the loss is on completions',
    )
    .requiredOption('-m, --model <dir>', 'model folder to start from (Hugging Face checkpoint)')
    .requiredOption('--data <file>', 'JSONL, one {"prompt": ..., "completion": ...} per line')
    .requiredOption('-o, --out <dir>', 'where the fine-tuned model folder goes')
    .option(
      '-c, --config <file>',
      'a campaign config (or a file holding only its training section): its training section',
    )
    .option('--epochs <n>', 'passes over the data (instead of --steps)', int)
    .option('--steps <n>', 'optimiser steps (instead of --epochs)', int)
    .option('--learning-rate <lr>', 'peak learning rate', float)
    .option('--batch-size <n>', 'rows per micro-batch', int)
    .option('--gradient-accumulation <n>', 'micro-batches per step', int)
    .option('--warmup-steps <n>', 'linear warmup steps', int)
    .option('--weight-decay <w>', 'AdamW weight decay', float)
    .option('--checkpoint-every <n>', 'save a resumable checkpoint every N steps', int)
    .option('--packing <mode>', 'best-fit | next-fit | none')
    .option('--method <method>', 'full: every weight trains; lora: LoRA adapters on the frozen model')
    .option('--lora-rank <r>', 'LoRA rank (default 8)', int)
    .option('--lora-alpha <a>', 'LoRA alpha: the update is scaled by alpha / rank (default 16)', float)
    .option('--lora-dropout <p>', "dropout on the adapters' input (default 0)", float)
    .option('--lora-targets <m...>', 'adapted projections, of q k v o gate up down (default all)')
    .option('--seq-len <n>', 'tokens per row (default: the longest example, rounded up and capped)', int)
    .option('--recompute', "recompute each layer's activations in the backward pass (less memory, slower)")
    .option('--seed <seed>', 'seed of the data order', 'finetune')
    .option('--eval-data <file>', 'held-out JSONL: its loss is reported')
    .option('--threads <n>', 'onnxruntime threads (default: every core)', int)
    .addOption(
      new Option(
        '--execution-provider <ep>',
        'where the training graphs run (cuda: infra/gpu/install-cuda-ep)',
      )
        .choices(['cpu', 'cuda'])
        .default('cpu'),
    )
    .option('--allow-cpu-fallback', 'with cuda that cannot load here, train on the CPU instead of failing')
    .option('--resume', 'continue the run in <out>.run/ from its newest checkpoint')
    .option(
      '--chat-template <mode>',
      "auto: train chat turns with the folder's chat template when it has one (as a campaign's default: loss on the assistant turn and its end-of-turn token); none: the text as given",
      chatTemplateMode,
      'auto',
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: FinetuneOptions, command: Command) => {
      const { TrainingConfig } = await import('../config/campaign');
      const { loadTrainingSection } = await import('../config/load');
      const { engineTrainingConfig, withTrainingFlags } = await import('../config/engine-training');
      const { checkModel } = await import('../engine/checkpoint/check');
      const { fineTune, readExamples } = await import('../engine/train');
      const { loadTokenizer } = await import('../engine/tokenizer/load');
      const { promptingFor } = await import('../activities/prompting');
      const usage = (message: string): never => command.error(`error: ${message}`, { exitCode: 2 });

      const base = opts.config ? loadTrainingSection(path.resolve(opts.config)) : {};
      const merged = withTrainingFlags(base, {
        epochs: opts.epochs,
        steps: opts.steps,
        learningRate: opts.learningRate,
        batchSize: opts.batchSize,
        gradientAccumulation: opts.gradientAccumulation,
        warmupSteps: opts.warmupSteps,
        weightDecay: opts.weightDecay,
        checkpointEvery: opts.checkpointEvery,
        packing: opts.packing,
        method: opts.method,
        recompute: opts.recompute,
        lora: {
          rank: opts.loraRank,
          alpha: opts.loraAlpha,
          dropout: opts.loraDropout,
          targetModules: opts.loraTargets,
        },
      });
      const parsed = TrainingConfig.safeParse(merged);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return usage(`training.${issue.path.join('.') || '(section)'}: ${issue.message}`);
      }
      const t = parsed.data;

      const model = path.resolve(opts.model);
      checkModel(model, { training: true });
      const out = path.resolve(opts.out);
      const runDir = `${out}.run`;
      if (existsSync(out) && readdirSync(out).length > 0)
        return usage(`--out ${opts.out} exists and is not empty; choose another folder`);
      if (existsSync(runDir) && readdirSync(runDir).length > 0 && !opts.resume)
        return usage(`${runDir} holds an earlier run: pass --resume to continue it, or remove it`);

      const prompting = promptingFor(model, loadTokenizer(model), opts.chatTemplate);
      const asTrained = (file: string) => readExamples(path.resolve(file)).map((e) => prompting.example(e));
      let last = 0;
      const result = await fineTune({
        from: model,
        outDir: runDir,
        resume: opts.resume ?? false,
        examples: asTrained(opts.data),
        ...(opts.evalData ? { evalExamples: asTrained(opts.evalData) } : {}),
        config: engineTrainingConfig(t, { seed: opts.seed, seqLen: opts.seqLen }),
        threads: opts.threads,
        provider: opts.executionProvider,
        allowCpuFallback: opts.allowCpuFallback ?? false,
        onProgress: (p) => {
          const now = Date.now();
          if (!opts.json && (now - last > 2000 || p.step === p.totalSteps || p.evalLoss !== undefined)) {
            last = now;
            process.stderr.write(
              `step ${p.step}/${p.totalSteps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}` +
                `${p.evalLoss === undefined ? '' : `  eval loss ${p.evalLoss.toFixed(4)}`}  ${Math.round(p.tokensPerSec)} tok/s\n`,
            );
          }
        },
      });
      // The model folder a user gets: the final checkpoint without its optimiser and trainer state
      // (a checkpoint to resume from, not a model), so it is a base model for anything, lmsi finetune too.
      mkdirSync(out, { recursive: true });
      const copy = (from: string, to: string) => {
        for (const e of readdirSync(from, { withFileTypes: true })) {
          if (e.name === 'optimizer.safetensors' || e.name === 'trainer_state.json') continue;
          if (e.isDirectory()) {
            mkdirSync(path.join(to, e.name), { recursive: true });
            copy(path.join(from, e.name), path.join(to, e.name));
          } else copyFileSync(path.join(from, e.name), path.join(to, e.name));
        }
      };
      copy(result.checkpointDir, out);
      rmSync(runDir, { recursive: true, force: true });
      const summary = {
        out,
        steps: result.steps,
        finalLoss: result.finalLoss,
        evalLosses: result.evalLosses,
        tokensSeen: result.tokensSeen,
        truncatedExamples: result.truncatedExamples,
        skippedExamples: result.skippedExamples,
        seconds: result.seconds,
        executionProvider: result.provider,
        ...(result.providerFallbackReason === null
          ? {}
          : { cpuFallbackReason: result.providerFallbackReason }),
      };
      if (result.providerFallbackReason !== null && !opts.json)
        process.stderr.write(`trained on the CPU: cuda is unavailable: ${result.providerFallbackReason}\n`);
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(summary, null, 2)}\n`
          : `${opts.out}: ${result.steps} steps, final loss ${result.finalLoss.toFixed(4)}, ` +
              `${result.tokensSeen} tokens in ${result.seconds.toFixed(1)} s` +
              (result.truncatedExamples + result.skippedExamples > 0
                ? ` (${result.truncatedExamples} examples truncated, ${result.skippedExamples} skipped: longer than seqLen)`
                : '') +
              '\n',
      );
    });
}
