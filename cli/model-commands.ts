import * as path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { promptingFor } from '../activities/prompting';
import type { ChatTemplateMode } from '../contract';
import { SamplingConfig, TaskConfig } from '../config/campaign';
import { loadTaskSection } from '../config/load';
import { BadInputError } from '../base/errors';
import { firstIssue } from '../method/load/records';
import { zeroShotCotPrompt } from '../method/formats';
import { greedyAccuracy, selfConsistencyAccuracy } from '../method/metrics';
import { getTask } from '../method/tasks';
import type { Task } from '../method/types';
import type { PromptSkipped } from '../engine/generate/generate-paths';
import { answerPaths } from '../method/vote';

/** The campaign config's sampling defaults (declared once, in config/campaign.ts). */
const SAMPLING = SamplingConfig.parse({});

const int = (v: string) => Number.parseInt(v, 10);

const float = (v: string) => Number.parseFloat(v);

/** --chat-template's value: what config prompting.chatTemplate takes. */
export function chatTemplateMode(v: string): ChatTemplateMode {
  if (v !== 'auto' && v !== 'none') throw new InvalidArgumentError('auto or none');
  return v;
}

/** The task of `lmsi eval`: --task with --task-options, or the task section of --config. */
function evalTask(
  opts: { task?: string; config?: string; taskOptions?: string },
  usage: (message: string) => never,
): Task {
  if (opts.config) {
    if (opts.taskOptions !== undefined)
      return usage('give the task options in --config or in --task-options, not both');
    const section = loadTaskSection(path.resolve(opts.config));
    if (opts.task !== undefined && opts.task !== section.name)
      return usage(`--task ${opts.task} differs from the task "${section.name}" of ${opts.config}`);
    const { name, ...options } = section;
    return getTask(name, options);
  }
  if (opts.task === undefined) return usage('give --task <name> or --config <file>');
  if (opts.taskOptions === undefined) return getTask(opts.task);
  let value: unknown;
  try {
    value = JSON.parse(opts.taskOptions);
  } catch (e) {
    throw new BadInputError('--task-options', null, '(json)', `not valid JSON: ${(e as Error).message}`);
  }
  const parsed = TaskConfig.omit({ name: true }).safeParse(value);
  if (!parsed.success) {
    const { field, problem } = firstIssue(parsed.error);
    throw new BadInputError('--task-options', null, field, problem);
  }
  return getTask(opts.task, parsed.data);
}

export function registerModelCommands(program: Command): void {
  program
    .command('sample')
    .description('sample completions of a prompt from a model folder (no Temporal)')
    .requiredOption('-m, --model <dir>', 'model folder (onnx/model.onnx + tokenizer files)')
    .requiredOption('-p, --prompt <text>', 'the prompt')
    .option('-n <n>', 'completions', int, 1)
    .option('-t, --temperature <t>', 'temperature (0 = greedy)', float, SAMPLING.temperature)
    .option('--max-new-tokens <n>', 'longest completion', int, SAMPLING.maxNewTokens)
    .option('--seed <seed>', 'random seed', '0')
    .option('--stop <s...>', 'stop strings', SAMPLING.stop)
    .option(
      '--chat-template <mode>',
      "auto: render the prompt as a user turn with the folder's chat template (as a campaign does); none: as given",
      chatTemplateMode,
      'none',
    )
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        model: string;
        prompt: string;
        chatTemplate: ChatTemplateMode;
        n: number;
        temperature: number;
        maxNewTokens: number;
        seed: string;
        stop: string[];
        json?: boolean;
      }) => {
        const { loadGenerationModel, generatePaths } = await import('../engine/generate');
        const model = await loadGenerationModel(path.resolve(opts.model));
        const prompting = promptingFor(model.dir, model.tokenizer, opts.chatTemplate);
        const [completions] = await generatePaths(model, {
          prompts: [prompting.prompt(opts.prompt)],
          n: opts.n,
          temperature: opts.temperature,
          maxNewTokens: opts.maxNewTokens,
          stop: prompting.stop(opts.stop),
          seed: opts.seed,
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(completions, null, 2)}\n`);
        else
          for (const c of completions)
            process.stdout.write(`--- ${c.finishReason}, logprob ${c.sumLogprob.toFixed(2)}\n${c.text}\n`);
      },
    );

  program
    .command('eval')
    .description('greedy and self-consistency accuracy of a model on a labeled file (no Temporal)')
    .requiredOption('-m, --model <dir>', 'model folder')
    .option('--task <name>', 'task (or the task section of --config)')
    .option(
      '-c, --config <file>',
      'a campaign config (or a file holding only its task section): its task section',
    )
    .option('--task-options <json>', "the task section's options as JSON, e.g. custom's field names")
    .requiredOption('--data <file>', 'labeled questions')
    .option('--k <k>', 'paths per question for SC@k', int, 16)
    .option('-t, --temperature <t>', 'sampling temperature for SC@k', float, SAMPLING.temperature)
    .option('--max-new-tokens <n>', 'longest completion', int, SAMPLING.maxNewTokens)
    .option('--limit <n>', 'first N questions only', int)
    .option(
      '--chat-template <mode>',
      "auto: prompt in chat turns with the folder's chat template when it has one (as a campaign's default); none: raw text",
      chatTemplateMode,
      'auto',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        opts: {
          model: string;
          task?: string;
          config?: string;
          taskOptions?: string;
          data: string;
          k: number;
          temperature: number;
          maxNewTokens: number;
          limit?: number;
          chatTemplate: ChatTemplateMode;
          json?: boolean;
        },
        command: Command,
      ) => {
        const { loadGenerationModel, generatePaths } = await import('../engine/generate');
        const task = evalTask(opts, (message) => command.error(`error: ${message}`, { exitCode: 2 }));
        const loaded = await task.loadQuestions(path.resolve(opts.data), { limit: opts.limit });
        const model = await loadGenerationModel(path.resolve(opts.model));
        const prompting = promptingFor(model.dir, model.tokenizer, opts.chatTemplate);
        const prompts = loaded.questions.map((q) => ({
          id: q.id,
          text: prompting.prompt(zeroShotCotPrompt(task, q)),
        }));
        // A question whose prompt is longer than the model's context is skipped and said, not fatal.
        const skipped = new Map<string, PromptSkipped>();
        let clipped = 0;
        const common = {
          prompts,
          maxNewTokens: opts.maxNewTokens,
          stop: prompting.stop(['\n\n']),
          seed: 'eval',
          onPromptSkipped: (s: PromptSkipped) => void skipped.set(s.key, s),
        };
        const greedyAll = await generatePaths(model, {
          ...common,
          n: 1,
          temperature: 0,
          onPromptDone: (d) => void (clipped += d.maxNewTokens < opts.maxNewTokens ? 1 : 0),
        });
        const sampledAll = await generatePaths(model, {
          ...common,
          n: opts.k,
          temperature: opts.temperature,
        });
        const kept = loaded.questions.flatMap((q, i) => (skipped.has(q.id) ? [] : [i]));
        const questions = kept.map((i) => loaded.questions[i]);
        const greedy = kept.map((i) => greedyAll[i]);
        const sampled = kept.map((i) => sampledAll[i]);
        if (clipped > 0)
          process.stderr.write(
            `warning: --max-new-tokens ${opts.maxNewTokens} was clipped to the positions left in the ` +
              `model's context (${model.maxPositions}) for ${clipped} questions\n`,
          );
        for (const s of skipped.values())
          process.stderr.write(
            `warning: question ${s.key} skipped: its prompt has ${s.promptTokens} tokens, the model's ` +
              `context ${s.maxPositions} positions\n`,
          );
        if (questions.length === 0)
          throw new BadInputError(
            path.resolve(opts.data),
            null,
            '(questions)',
            `every question's prompt is longer than the model's context (${model.maxPositions} positions)`,
          );
        const g = greedyAccuracy(
          task,
          questions.map((question, i) => ({ question, text: greedy[i][0].text })),
        );
        const items = questions.map((question, i) => ({
          question,
          paths: answerPaths(
            task,
            question,
            sampled[i].map((c, pathIndex) => ({
              questionId: question.id,
              pathIndex,
              text: c.text,
              sumLogprob: c.sumLogprob,
              finishReason: c.finishReason,
            })),
          ),
        }));
        const sc = selfConsistencyAccuracy(task, items, opts.k, { seed: 'eval' });
        const out = {
          questions: questions.length,
          skipped: [...skipped.values()].map((s) => ({
            id: s.key,
            reason: s.reason,
            promptTokens: s.promptTokens,
            maxPositions: s.maxPositions,
          })),
          clippedMaxNewTokens: clipped,
          greedyAccuracy: g.accuracy,
          abstained: g.abstained,
          k: opts.k,
          scAccuracy: sc.accuracy,
        };
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(out, null, 2)}\n`
            : `greedy ${(g.accuracy * 100).toFixed(1)}%  SC@${opts.k} ${(sc.accuracy * 100).toFixed(1)}%  ` +
                `(${questions.length} questions${skipped.size > 0 ? `, ${skipped.size} skipped: prompt longer than the context` : ''})\n`,
        );
      },
    );
}
