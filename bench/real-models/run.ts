/**
 * npm run bench:real-models [-- --models=smollm2-135m,qwen2.5-0.5b,llama-3.2-1b]
 *                              [--phases=check,load,sample,eval,finetune,finetune-lora,campaign]
 *                              [--rss-limit-gb=18] [--budget-minutes=55] [--out=bench/results/real-models.json]
 *                              [--merge]        (keep --out's other models and phases; replace those run)
 *                              [--table-only]   (summaries and table again from --out, nothing run)
 *
 * A real-size walk-through: random-weight checkpoints with the published configurations of
 * SmolLM2-135M, Qwen2.5-0.5B and Llama-3.2-1B (make-checkpoints.sh: transformers' save_pretrained, a
 * real 32 000-token BPE tokenizer) through what a user does with a model folder, in order of size:
 *
 *   check             `lmsi model check DIR`
 *   load              the engine's inference graph built from the safetensors (first load) + session
 *   sample            a second process: session from the cached graph, then 4 paths × 32 new tokens
 *                     on a GSM8K prompt (tok/s)
 *   eval              `lmsi eval` on 8 GSM8K test questions, greedy and SC@4, 48 new tokens
 *   finetune          full fine-tuning, 3 steps, batch 2, rows of 256 tokens: the step time
 *   finetune-lora     the same with LoRA adapters (rank 8 on every projection, the engine's defaults)
 *   campaign          one round through the real workflows (Temporal dev server, a light and an
 *                     accelerator worker in one process) on 16 GSM8K questions × 4 paths, 48 new
 *                     tokens, 2 training steps of batch 2 at the engine's default row length: full
 *                     fine-tuning where the finetune phase fit, else LoRA where finetune-lora fit
 *   finetune-context  (only when named) full fine-tuning on rows as long as the model's context
 *
 * Each phase is a child process whose resident memory is polled from /proc; one that passes the RSS
 * limit (or leaves the shared machine short of memory) is killed and recorded as "did not fit" with
 * the memory it had reached. Every phase has a timeout and the whole run a time budget. Writes the
 * JSON after every phase, and prints a table.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { ensureTemporalCli, retryServerStartup } from '../../demo/session';
import { lmsiSearchAttributeKeys } from '../../workflows/search-attributes';
import { machine } from '../machine';
import { flagArg, listArg, numberArg, stringArg } from '../args';
import { availableBytes, type ChildRun, runChild } from './child';

const ROOT = path.resolve(__dirname, '..', '..');
const MODELS_DIR = path.join(ROOT, 'tmp', 'real-models');
const GSM8K = path.resolve(ROOT, '..', 'shared', 'data', 'gsm8k');

const ALL_MODELS = ['smollm2-135m', 'qwen2.5-0.5b', 'llama-3.2-1b'];
const PHASES = [
  'check',
  'load',
  'sample',
  'eval',
  'finetune',
  'finetune-lora',
  'campaign',
  'finetune-context',
] as const;
const DEFAULT_PHASES = PHASES.filter((p) => p !== 'finetune-context');
type Phase = (typeof PHASES)[number];
const TIMEOUT_S: Record<Phase, number> = {
  check: 120,
  load: 900,
  sample: 600,
  eval: 900,
  'finetune-context': 300,
  finetune: 900,
  'finetune-lora': 900,
  campaign: 1500,
};

const models = listArg('models', ALL_MODELS);
const phases = listArg('phases', DEFAULT_PHASES) as Phase[];
for (const p of phases)
  if (!PHASES.includes(p)) throw new Error(`unknown phase ${p}; phases: ${PHASES.join(',')}`);
const RSS_LIMIT = numberArg('rss-limit-gb', 18) * 1e9;
/** Below this much available memory on the machine a phase is stopped, whatever its own size. */
const MIN_AVAILABLE = numberArg('min-available-gb', 1.5) * 1e9;
const BUDGET_MS = numberArg('budget-minutes', 55) * 60_000;
/** Keep the results file's other models and phases: rerun some phases without redoing the rest. */
const MERGE = flagArg('merge');
const OUT = path.resolve(stringArg('out', path.join(ROOT, 'bench', 'results', 'real-models.json')));
const THREADS = cpus().length;

const gb = (bytes: number) => Math.round((bytes / 1e9) * 100) / 100;

function machineLoad() {
  return {
    at: new Date().toISOString(),
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    availableGB: gb(availableBytes()),
  };
}

interface PhaseRecord {
  ok: boolean;
  seconds: number;
  peakRssGB: number;
  /** Load and free memory when the phase started: the machine is shared. */
  machineAtStart: ReturnType<typeof machineLoad>;
  didNotFit?: string;
  timedOut?: string;
  error?: string;
  skipped?: string;
  [k: string]: unknown;
}

/** The last line of stderr that says what went wrong (an error's first line, not its stack). */
function errorLine(run: ChildRun): string {
  const lines = run.stderr.split('\n').map((l) => l.trim());
  const hit = lines.find((l) => /error|Error|failed|refused/.test(l) && !l.startsWith('at '));
  return (hit ?? lines.filter(Boolean).slice(-1)[0] ?? `exit ${run.exitCode ?? run.signal}`).slice(0, 2000);
}

async function measured(
  args: string[],
  timeoutS: number,
  env: NodeJS.ProcessEnv,
  resultFile?: string,
): Promise<{ record: PhaseRecord; run: ChildRun; result: Record<string, unknown> | null }> {
  const machineAtStart = machineLoad();
  if (resultFile) rmSync(resultFile, { force: true });
  const run = await runChild(
    args,
    { timeoutMs: timeoutS * 1000, rssLimitBytes: RSS_LIMIT, minAvailableBytes: MIN_AVAILABLE },
    env,
  );
  let result: Record<string, unknown> | null = null;
  if (resultFile && existsSync(resultFile)) result = JSON.parse(readFileSync(resultFile, 'utf8'));
  const record: PhaseRecord = {
    ok: run.exitCode === 0 && run.killed === null,
    seconds: Math.round(run.seconds * 10) / 10,
    peakRssGB: gb(run.peakRssBytes),
    machineAtStart,
  };
  if (run.killed?.reason === 'rss-limit')
    record.didNotFit = `killed at ${gb(run.killed.rssBytes)} GB RSS (limit ${gb(RSS_LIMIT)} GB) after ${record.seconds} s`;
  else if (run.killed?.reason === 'machine-low-memory')
    record.didNotFit = `killed at ${gb(run.killed.rssBytes)} GB RSS: the machine had ${gb(run.killed.availableBytes)} GB available left`;
  else if (run.killed?.reason === 'timeout')
    record.timedOut = `stopped after the phase's ${timeoutS} s timeout`;
  else if (run.exitCode !== 0)
    record.error = typeof result?.error === 'string' ? result.error.slice(0, 2000) : errorLine(run);
  return { record, run, result };
}

function jsonLines(file: string, n: number): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .slice(0, n);
}

/** The bench's data files: GSM8K questions for eval and the campaign, prompt/completion lines for training. */
function prepareData(dir: string) {
  mkdirSync(dir, { recursive: true });
  const test = jsonLines(path.join(GSM8K, 'test.jsonl'), 8);
  const train = jsonLines(path.join(GSM8K, 'train.jsonl'), 16);
  const files = {
    eval8: path.join(dir, 'gsm8k-test-8.jsonl'),
    eval4: path.join(dir, 'gsm8k-test-4.jsonl'),
    unlabeled16: path.join(dir, 'gsm8k-train-16.jsonl'),
    training16: path.join(dir, 'gsm8k-train-16-prompt-completion.jsonl'),
  };
  writeFileSync(files.eval8, `${test.join('\n')}\n`);
  writeFileSync(files.eval4, `${test.slice(0, 4).join('\n')}\n`);
  writeFileSync(files.unlabeled16, `${train.join('\n')}\n`);
  const examples = train.map((l) => {
    const { question, answer } = JSON.parse(l) as { question: string; answer: string };
    const [rationale, final] = answer.split('####');
    const completion = ` ${rationale.replace(/<<[^>]*>>/g, '').trim()} The answer is ${final.trim()}.`;
    return JSON.stringify({ prompt: `Q: ${question}\nA: Let's think step by step.`, completion });
  });
  writeFileSync(files.training16, `${examples.join('\n')}\n`);
  const firstQuestion = (JSON.parse(test[0]) as { question: string }).question;
  return { ...files, samplePrompt: `Q: ${firstQuestion}\nA: Let's think step by step.` };
}

interface ModelRecord {
  name: string;
  published: string;
  parameters: number;
  dtype: string;
  config: Record<string, unknown>;
  phases: Partial<Record<Phase, PhaseRecord>>;
  summary?: ModelSummary;
}

const started = performance.now();
const remainingS = () => Math.floor((BUDGET_MS - (performance.now() - started)) / 1000);

async function main() {
  const missing = models.filter((m) => !existsSync(path.join(MODELS_DIR, m, '.complete')));
  if (missing.length > 0) {
    process.stdout.write(
      `making checkpoints ${missing.join(', ')} (bench/real-models/make-checkpoints.sh)\n`,
    );
    const r = spawnSync('bash', [path.join(__dirname, 'make-checkpoints.sh'), ...missing], {
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('make-checkpoints.sh failed');
  }
  const data = prepareData(path.join(MODELS_DIR, '.data'));
  const output = {
    date: new Date().toISOString(),
    machine: {
      ...machine(),
      nproc: THREADS,
      memoryTotalGB: gb(totalmem()),
      availableGBAtStart: gb(availableBytes()),
      note: 'shared with other agents while it ran: see each phase machineAtStart',
    },
    settings: {
      rssLimitGB: gb(RSS_LIMIT),
      minAvailableGB: gb(MIN_AVAILABLE),
      budgetMinutes: BUDGET_MS / 60_000,
      threads: THREADS,
      sample: {
        paths: 4,
        maxNewTokens: 32,
        temperature: 0.7,
        prompt: 'GSM8K test question 1, zero-shot CoT',
      },
      eval: { questions: 8, k: 4, maxNewTokens: 48, task: 'gsm8k' },
      finetune: { steps: 3, batchSize: 2, seqLen: 256, examples: 16 },
      campaign: {
        rounds: 1,
        unlabeledQuestions: 16,
        paths: 4,
        maxNewTokens: 48,
        evaluationQuestions: 4,
        scK: [4],
        trainingSteps: 2,
        batchSize: 2,
        training: 'full where the finetune phase fit, else LoRA where finetune-lora fit',
        task: "custom on GSM8K lines, answer = a path's last character (a random model's paths then agree and the round trains)",
      },
    },
    models: [] as ModelRecord[],
    totalMinutes: null as number | null,
    /** With --merge: the earlier runs whose phases this file still holds (each phase says when it ran). */
    earlierRuns: [] as unknown[],
  };
  if (MERGE && existsSync(OUT)) {
    const { models: kept, earlierRuns, ...run } = JSON.parse(readFileSync(OUT, 'utf8'));
    output.models = kept as ModelRecord[];
    output.earlierRuns = [...((earlierRuns as unknown[] | undefined) ?? []), run];
  }
  const save = () => writeFileSync(OUT, `${JSON.stringify(output, null, 2)}\n`);

  let server: TestWorkflowEnvironment | null = null;
  if (phases.includes('campaign')) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const bin = ensureTemporalCli();
    server = await retryServerStartup(() =>
      TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: bin },
          ip: '127.0.0.1',
          searchAttributes: lmsiSearchAttributeKeys,
        },
      }),
    );
    process.stdout.write(`Temporal dev server at ${server.address}\n`);
  }

  try {
    for (const name of models) {
      const dir = path.join(MODELS_DIR, name);
      const meta = JSON.parse(readFileSync(path.join(dir, 'bench-model.json'), 'utf8'));
      const hf = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
      const record: ModelRecord = {
        name,
        published: meta.published,
        parameters: meta.parameters,
        dtype: hf.dtype ?? hf.torch_dtype,
        config: {
          architectures: hf.architectures,
          hidden_size: hf.hidden_size,
          num_hidden_layers: hf.num_hidden_layers,
          num_attention_heads: hf.num_attention_heads,
          num_key_value_heads: hf.num_key_value_heads,
          intermediate_size: hf.intermediate_size,
          vocab_size: hf.vocab_size,
          max_position_embeddings: hf.max_position_embeddings,
          rope_theta: hf.rope_theta,
          rope_scaling: hf.rope_scaling,
          tie_word_embeddings: hf.tie_word_embeddings,
        },
        phases: {},
      };
      // --merge: this run's phases replace the same phases of the file's record, the others stay.
      const earlier = output.models.findIndex((m) => m.name === name);
      if (earlier >= 0) {
        record.phases = output.models[earlier].phases;
        output.models[earlier] = record;
      } else output.models.push(record);
      // Each model's graph cache and scratch under its own TMPDIR: `lmsi eval` (os.tmpdir()/lmsi-graphs)
      // reuses the graph the load phase built, and the folder is removed when the model is done.
      const scratch = path.join(MODELS_DIR, '.tmp', name);
      rmSync(scratch, { recursive: true, force: true });
      mkdirSync(scratch, { recursive: true });
      const env = { ...process.env, TMPDIR: scratch };
      const graphCacheDir = path.join(scratch, 'lmsi-graphs');
      const resultFile = path.join(scratch, 'phase-result.json');

      for (const p of phases) {
        const left = remainingS();
        if (left < 30) {
          record.phases[p] = {
            ok: false,
            seconds: 0,
            peakRssGB: 0,
            machineAtStart: machineLoad(),
            skipped: 'the bench ran out of its time budget',
          };
          save();
          continue;
        }
        const timeout = Math.min(TIMEOUT_S[p], left);
        process.stdout.write(`${name}: ${p} (timeout ${timeout} s) ... `);
        const phaseScript = path.join(__dirname, 'phase.ts');
        const cli = path.join(ROOT, 'cli', 'main.ts');
        let r: Awaited<ReturnType<typeof measured>>;
        if (p === 'check') {
          r = await measured([cli, 'model', 'check', dir, '--json'], timeout, env);
          if (r.record.ok) {
            const report = JSON.parse(r.run.stdout);
            r.record.report = {
              architecture: report.architecture,
              family: report.family,
              parameters: report.parameters,
              dtype: report.dtype,
              contextLength: report.contextLength,
              ropeScaling: report.ropeScaling,
              trainable: report.trainable,
            };
          }
        } else if (p === 'load' || p === 'sample') {
          const args = {
            model: dir,
            graphCacheDir,
            fresh: p === 'load',
            threads: THREADS,
            ...(p === 'sample'
              ? { sample: { prompt: data.samplePrompt, n: 4, maxNewTokens: 32, temperature: 0.7 } }
              : {}),
          };
          r = await measured(
            [phaseScript, 'load', JSON.stringify(args), resultFile],
            timeout,
            env,
            resultFile,
          );
        } else if (p === 'eval') {
          r = await measured(
            [cli, 'eval', '-m', dir, '--task', 'gsm8k', '--data', data.eval8].concat([
              '--k',
              '4',
              '--max-new-tokens',
              '48',
              '--json',
            ]),
            timeout,
            env,
          );
          if (r.record.ok) r.record.result = JSON.parse(r.run.stdout);
        } else if (p === 'finetune' || p === 'finetune-lora' || p === 'finetune-context') {
          const args = {
            model: dir,
            data: data.training16,
            outDir: path.join(scratch, 'finetune'),
            steps: p === 'finetune-context' ? 1 : 3,
            batchSize: 2,
            seqLen: p === 'finetune-context' ? (hf.max_position_embeddings as number) : 256,
            method: p === 'finetune-lora' ? 'lora' : 'full',
            threads: THREADS,
          };
          r = await measured(
            [phaseScript, 'finetune', JSON.stringify(args), resultFile],
            timeout,
            env,
            resultFile,
          );
        } else {
          const progressFile = path.join(scratch, 'campaign-progress.json');
          // Full fine-tuning unless it was measured not to fit and LoRA was measured to fit.
          const method =
            record.phases.finetune && !record.phases.finetune.ok && record.phases['finetune-lora']?.ok
              ? 'lora'
              : 'full';
          const args = {
            model: dir,
            address: server!.address,
            name: `real-models-${name.replace(/[^A-Za-z0-9._-]/g, '-')}-${Date.now()}`,
            workDir: path.join(scratch, 'campaign'),
            unlabeled: data.unlabeled16,
            evaluation: data.eval4,
            threads: THREADS,
            progressFile,
            config: {
              seed: 7,
              task: {
                name: 'custom',
                questionField: 'question',
                answerField: 'answer',
                answerPattern: '(\\S)\\s*$',
                answerType: 'text',
              },
              sampling: {
                m: 4,
                temperature: 1,
                maxNewTokens: 48,
                prompt: 'zero-shot-cot',
                shardSize: 16,
                maxConcurrentShards: 1,
              },
              formats: ['zero-shot-cot', 'zero-shot-direct'],
              training: { steps: 2, batchSize: 2, checkpointEvery: 2, learningRate: 1e-4, method },
              evaluation: { scK: [4], shardSize: 4 },
              rounds: 1,
              gate: { tolerance: 1, stopWhenNothingKept: false },
            },
          };
          r = await measured(
            [phaseScript, 'campaign', JSON.stringify(args), resultFile],
            timeout,
            env,
            resultFile,
          );
          if (!r.record.ok && existsSync(progressFile))
            r.record.lastStatus = JSON.parse(readFileSync(progressFile, 'utf8'));
          r.record.trainingMethod = method;
        }
        if (r.result) {
          const { ok: _ok, error: _error, ...rest } = r.result;
          Object.assign(r.record, rest);
        }
        record.phases[p] = r.record;
        save();
        process.stdout.write(
          `${r.record.ok ? 'ok' : (r.record.didNotFit ?? r.record.timedOut ?? r.record.error)} ` +
            `(${r.record.seconds} s, peak RSS ${r.record.peakRssGB} GB)\n`,
        );
        if (!r.record.ok && r.run.stderr)
          writeFileSync(path.join(MODELS_DIR, `${name}-${p}.stderr.log`), r.run.stderr);
      }
      rmSync(scratch, { recursive: true, force: true });
    }
  } finally {
    await server?.teardown();
  }
  output.totalMinutes = Math.round((performance.now() - started) / 600) / 100;
  for (const m of output.models) m.summary = summary(m);
  save();
  process.stdout.write(`\n${table(output.models)}\n\nwrote ${path.relative(ROOT, OUT)}\n`);
}

/** What a reader wants first: the phases that did not fit or failed, and training's memory per parameter. */
export function summary(m: ModelRecord): ModelSummary {
  // A campaign child exits 0 when the campaign itself failed: its failure is the phase's error.
  const campaign = m.phases.campaign;
  if (campaign && typeof campaign.failure === 'string') {
    campaign.ok = false;
    campaign.error = campaign.failure;
  }
  const notDone: ModelSummary['notDone'] = [];
  for (const [phase, r] of Object.entries(m.phases) as [Phase, PhaseRecord][]) {
    const why = r.didNotFit ?? r.timedOut ?? r.error ?? r.skipped;
    if (r.ok || !why) continue;
    const where = r.lastStatus as { round: number; step: string } | undefined;
    notDone.push({
      phase,
      why: where ? `${why} (campaign in round ${where.round}, step ${where.step})` : why,
    });
  }
  const ft = m.phases.finetune;
  return {
    notDone,
    trainingPeakBytesPerParameter: ft?.ok ? Math.round((ft.peakRssGB * 1e9) / m.parameters) : null,
  };
}

interface ModelSummary {
  notDone: { phase: Phase; why: string }[];
  /** Peak RSS of the 3-step fine-tuning (rows of 256 tokens, batch 2) over the parameter count. */
  trainingPeakBytesPerParameter: number | null;
}

/** The table in docs/models.md ("Real-size models: measured"): one row per model. */
export function table(records: readonly ModelRecord[]): string {
  const cell = (r: PhaseRecord | undefined, value: (r: PhaseRecord) => string): string => {
    if (!r) return '–';
    const where = r.lastStatus as { round: number; step: string } | undefined;
    const at = where ? `, round ${where.round} ${where.step}` : '';
    if (r.didNotFit)
      return `did not fit (${r.didNotFit.replace(/^killed at /, '').replace(/ RSS.*/, '')} at kill${at})`;
    if (r.timedOut) return `timed out (${r.seconds} s${at})`;
    if (r.skipped) return 'skipped';
    if (!r.ok) return 'failed';
    return value(r);
  };
  const mem = (r: PhaseRecord | undefined) => (r && !r.skipped ? `${r.peakRssGB}` : '–');
  const head = [
    'model',
    'params',
    'check s',
    'first load s (graph + session)',
    'cached load s',
    'tok/s (4 × 32)',
    'eval s (8 q, SC@4)',
    'full train step s (2 × 256)',
    'LoRA train step s (2 × 256)',
    'campaign s (1 round)',
    'peak RSS GB: check / load / sample / eval / full train / LoRA train / campaign',
  ];
  const rows = records.map((m) => {
    const ph = m.phases;
    const sample = ph.sample?.sample as { tokensPerSecond: number } | undefined;
    return [
      m.name,
      `${(m.parameters / 1e6).toFixed(1)}M`,
      cell(ph.check, (r) => `${r.seconds}`),
      cell(ph.load, (r) => `${r.seconds} (${r.graphSeconds as number} + ${r.sessionSeconds as number})`),
      cell(ph.sample, (r) => `${r.sessionSeconds as number}`),
      cell(ph.sample, () => `${sample?.tokensPerSecond ?? '?'}`),
      cell(ph.eval, (r) => `${r.seconds}`),
      cell(ph.finetune, (r) => `${(r.stepSeconds as number[]).join(', ')}`),
      cell(ph['finetune-lora'], (r) => `${(r.stepSeconds as number[]).join(', ')}`),
      cell(ph.campaign, (r) => `${r.wallSeconds as number} (${r.trainingMethod as string})`),
      [ph.check, ph.load, ph.sample, ph.eval, ph.finetune, ph['finetune-lora'], ph.campaign]
        .map(mem)
        .join(' / '),
    ];
  });
  const lines = [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`);
  return lines.join('\n');
}

/** `--table-only`: the summaries and the table again from the results file, without running anything. */
function tableOnly() {
  const output = JSON.parse(readFileSync(OUT, 'utf8')) as { models: ModelRecord[] };
  for (const m of output.models) m.summary = summary(m);
  writeFileSync(OUT, `${JSON.stringify(output, null, 2)}\n`);
  process.stdout.write(`${table(output.models)}\n`);
}

// Ctrl-C or a kill: exit, so that the running phase is killed with it (child.ts) and nothing is left
// running on the shared machine (the Temporal runtime would otherwise hold SIGINT/SIGTERM).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

if (require.main === module)
  (flagArg('table-only') ? Promise.resolve().then(tableOnly) : main()).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
