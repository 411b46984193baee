import * as path from 'node:path';
import type { Command } from 'commander';
import { zeroShotCotPrompt } from '../method/formats';
import { greedyAccuracy, selfConsistencyAccuracy } from '../method/metrics';
import { getTask } from '../method/tasks';
import { answerPaths } from '../method/vote';

const int = (v: string) => Number.parseInt(v, 10);
const float = (v: string) => Number.parseFloat(v);

export function registerModelCommands(program: Command): void {
  program
    .command('sample')
    .description('sample completions of a prompt from a model folder (no Temporal)')
    .requiredOption('-m, --model <dir>', 'model folder (onnx/model.onnx + tokenizer files)')
    .requiredOption('-p, --prompt <text>', 'the prompt')
    .option('-n <n>', 'completions', int, 1)
    .option('-t, --temperature <t>', 'temperature (0 = greedy)', float, 0.7)
    .option('--max-new-tokens <n>', 'longest completion', int, 256)
    .option('--seed <seed>', 'random seed', '0')
    .option('--stop <s...>', 'stop strings', ['\n\n'])
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        model: string;
        prompt: string;
        n: number;
        temperature: number;
        maxNewTokens: number;
        seed: string;
        stop: string[];
        json?: boolean;
      }) => {
        const { loadGenerationModel, samplePaths } = await import('../engine/generate');
        const model = await loadGenerationModel(path.resolve(opts.model));
        const [completions] = await samplePaths(model, {
          prompts: [opts.prompt],
          n: opts.n,
          temperature: opts.temperature,
          maxNewTokens: opts.maxNewTokens,
          stop: opts.stop,
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
    .requiredOption('--task <name>', 'task')
    .requiredOption('--data <file>', 'labeled questions')
    .option('--k <k>', 'paths per question for SC@k', int, 16)
    .option('-t, --temperature <t>', 'sampling temperature for SC@k', float, 0.7)
    .option('--max-new-tokens <n>', 'longest completion', int, 256)
    .option('--limit <n>', 'first N questions only', int)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        model: string;
        task: string;
        data: string;
        k: number;
        temperature: number;
        maxNewTokens: number;
        limit?: number;
        json?: boolean;
      }) => {
        const { loadGenerationModel, samplePaths } = await import('../engine/generate');
        const task = getTask(opts.task);
        const { questions } = await task.loadQuestions(path.resolve(opts.data), { limit: opts.limit });
        const model = await loadGenerationModel(path.resolve(opts.model));
        const prompts = questions.map((q) => ({ id: q.id, text: zeroShotCotPrompt(task, q) }));
        const common = { prompts, maxNewTokens: opts.maxNewTokens, stop: ['\n\n'], seed: 'eval' };
        const greedy = await samplePaths(model, { ...common, n: 1, temperature: 0 });
        const sampled = await samplePaths(model, { ...common, n: opts.k, temperature: opts.temperature });
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
          greedyAccuracy: g.accuracy,
          abstained: g.abstained,
          k: opts.k,
          scAccuracy: sc.accuracy,
        };
        process.stdout.write(
          opts.json
            ? `${JSON.stringify(out, null, 2)}\n`
            : `greedy ${(g.accuracy * 100).toFixed(1)}%  SC@${opts.k} ${(sc.accuracy * 100).toFixed(1)}%  (${questions.length} questions)\n`,
        );
      },
    );
}
