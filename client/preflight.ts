import { existsSync } from 'node:fs';
import { promptingFor } from '../activities/prompting';
import { ExemplarLine } from '../activities/exemplars';
import type { CampaignConfig } from '../config/campaign';
import { type ModelReport, checkModel } from '../engine/checkpoint/check';
import { loadTokenizer } from '../engine/tokenizer/load';
import { BadInputError } from '../base/errors';
import { fewShotCotPrompt, zeroShotCotPrompt } from '../method/formats';
import { readJsonl } from '../method/load';
import { getTask } from '../method/tasks';
import type { Exemplar } from '../method/types';

/** Prompt lengths of one data file against the model's context, as the campaign will prompt it. */
export interface PromptLengths {
  file: string;
  questions: number;
  /** Tokens of the longest prompt, and how many prompts leave no room for a single new token. */
  longest: number;
  tooLong: number;
  /** How many leave fewer than sampling.maxNewTokens positions (their completions are clipped). */
  clipped: number;
}

export interface Preflight {
  model: ModelReport;
  /** The prompt the lengths were measured with (few-shot CoT needs exemplars: data.exemplars). */
  prompt: 'few-shot-cot' | 'zero-shot-cot';
  files: PromptLengths[];
  warnings: string[];
}

/**
 * What a campaign's import would find, checked where `lmsi run` and `lmsi config check` run, before
 * any workflow starts: the base model (every check of `lmsi model check`), and each data file's
 * prompts, rendered as the rounds will render them, against the model's context. A campaign whose
 * prompts all exceed the context is refused (nothing could be sampled); some too long is a warning
 * (those questions are skipped and counted). Runs only where the model folder is visible: in a
 * cluster the light worker's import checks it again.
 */
export async function preflightCampaign(config: CampaignConfig): Promise<Preflight | null> {
  if (!existsSync(config.model.dir)) return null;
  const model = checkModel(config.model.dir, { training: true });
  const tokenizer = loadTokenizer(model.dir);
  const prompting = promptingFor(model.dir, tokenizer, config.prompting?.chatTemplate);
  const { name, ...taskOptions } = config.task;
  const task = getTask(name, Object.keys(taskOptions).length > 0 ? taskOptions : undefined);
  let exemplars: Exemplar[] | null = null;
  if (config.sampling.prompt === 'few-shot-cot' && config.data.exemplars) {
    const { records } = await readJsonl(config.data.exemplars, ExemplarLine, {
      policy: 'fail-fast',
      accept: (e): Exemplar => ({ ...e, question: /^Q:/.test(e.question) ? e.question : `Q: ${e.question}` }),
    });
    exemplars = records;
  }
  const prompt = exemplars ? 'few-shot-cot' : 'zero-shot-cot';
  const context = model.contextLength;
  const maxNew = config.sampling.maxNewTokens;
  const files: PromptLengths[] = [];
  const warnings: string[] = [];
  for (const file of [config.data.unlabeledQuestions, config.data.evaluation]) {
    const { questions } = await task.loadQuestions(file, { limit: config.data.limit });
    let longest = 0;
    let tooLong = 0;
    let clipped = 0;
    for (const q of questions) {
      const text = prompting.prompt(
        exemplars ? fewShotCotPrompt(task, exemplars, q) : zeroShotCotPrompt(task, q),
      );
      const n = tokenizer.encode(text, { bos: true }).length;
      longest = Math.max(longest, n);
      if (context !== null && n + 1 > context) tooLong++;
      else if (context !== null && n + maxNew > context) clipped++;
    }
    files.push({ file, questions: questions.length, longest, tooLong, clipped });
    if (context === null) continue;
    if (questions.length > 0 && tooLong === questions.length)
      throw new BadInputError(
        file,
        null,
        '(questions)',
        `every question's ${prompt} prompt is longer than the model's context (${context} positions, ` +
          `${model.dir}/config.json max_position_embeddings); the shortest needs more`,
      );
    if (tooLong > 0)
      warnings.push(
        `${file}: ${tooLong} of ${questions.length} questions have a ${prompt} prompt longer than the model's ` +
          `context (${context} positions; the longest has ${longest} tokens): they are skipped and counted`,
      );
    if (clipped > 0)
      warnings.push(
        `${file}: ${clipped} questions leave fewer than sampling.maxNewTokens (${maxNew}) positions in the ` +
          `context: their completions are clipped`,
      );
  }
  return { model, prompt, files, warnings };
}
