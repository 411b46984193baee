import type { Exemplar, FormatName, Question, Task } from './types';

/**
 * The prompts of the paper's Table 2, shared by sampling, fine-tuning and evaluation so that a model
 * is trained on exactly the text it is later asked with.
 *
 * Layout (byte for byte):
 *   CoT exemplar     `${exemplar.question}\nA: ${rationale} The answer is X.\n\n`
 *   direct exemplar  `${exemplar.question}\nA: The answer is X.\n\n`
 *   few-shot CoT     `[CoT exemplars]${formatQuestion(q)}\nA:`            → ` ${rationale} The answer is X.`
 *   few-shot direct  `[direct exemplars]${formatQuestion(q)}\nA:`         → ` The answer is X.`
 *   zero-shot CoT    `${formatQuestion(q)}\nA: Let's think step by step.` → ` ${rationale} The answer is X.`
 *   zero-shot direct `${formatQuestion(q)}\nA:`                           → ` The answer is X.`
 * Each exemplar ends in a blank line, so exemplars are separated from each other and from the
 * question by one blank line. Prompts end without a space and completions start with one, because
 * tokenizers attach a word's leading space to the word: the prompt + completion then reads as the
 * exemplars do. Completions end at the answer's full stop; a model continuing past it would start the
 * next exemplar with a blank line, hence the stop string.
 */

export const ZERO_SHOT_COT_TRIGGER = "Let's think step by step.";
/** The phrase the paper's answers end with, and that the rationale / answer split looks for. */
export const ANSWER_PHRASE = 'The answer is';
export const EXEMPLAR_SEPARATOR = '\n\n';
/** What opens the answer after a question: the prompts end with it (or with it and the CoT trigger). */
export const ANSWER_CUE = 'A:';
/** Where sampling stops: a completion never contains a blank line, and one starts the next "Q:". */
export const COMPLETION_STOP_STRINGS: readonly string[] = [EXEMPLAR_SEPARATOR];

/** `rationale` then the answer sentence, with one space between (no space when there is no rationale). */
function reasonedAnswer(task: Task, rationale: string, answer: string): string {
  const sentence = task.prompts.formatAnswer(answer);
  return rationale === '' ? sentence : `${rationale} ${sentence}`;
}

export function cotExemplar(task: Task, exemplar: Exemplar): string {
  return `${exemplar.question}\nA: ${reasonedAnswer(task, exemplar.rationale.trim(), exemplar.answer)}${EXEMPLAR_SEPARATOR}`;
}

export function directExemplar(task: Task, exemplar: Exemplar): string {
  return `${exemplar.question}\nA: ${task.prompts.formatAnswer(exemplar.answer)}${EXEMPLAR_SEPARATOR}`;
}

export function fewShotCotPrompt(task: Task, exemplars: readonly Exemplar[], question: Question): string {
  return `${exemplars.map((e) => cotExemplar(task, e)).join('')}${task.prompts.formatQuestion(question)}\nA:`;
}

export function fewShotDirectPrompt(task: Task, exemplars: readonly Exemplar[], question: Question): string {
  return `${exemplars.map((e) => directExemplar(task, e)).join('')}${task.prompts.formatQuestion(question)}\nA:`;
}

export function zeroShotCotPrompt(task: Task, question: Question): string {
  return `${task.prompts.formatQuestion(question)}\nA: ${ZERO_SHOT_COT_TRIGGER}`;
}

export function zeroShotDirectPrompt(task: Task, question: Question): string {
  return `${task.prompts.formatQuestion(question)}\nA:`;
}

/** A rationale followed by its answer, as the CoT formats' completions are. */
export function cotCompletion(task: Task, rationale: string, answer: string): string {
  return ` ${reasonedAnswer(task, rationale.trim(), answer)}`;
}

export function directCompletion(task: Task, answer: string): string {
  return ` ${task.prompts.formatAnswer(answer)}`;
}

export function isCotFormat(format: FormatName): boolean {
  return format === 'few-shot-cot' || format === 'zero-shot-cot';
}

export function isFewShotFormat(format: FormatName): boolean {
  return format === 'few-shot-cot' || format === 'few-shot-direct';
}

/** The prompt of any of the four formats; `exemplars` is ignored by the zero-shot ones. */
export function promptFor(
  format: FormatName,
  task: Task,
  question: Question,
  exemplars: readonly Exemplar[] = [],
): string {
  switch (format) {
    case 'few-shot-cot':
      return fewShotCotPrompt(task, exemplars, question);
    case 'few-shot-direct':
      return fewShotDirectPrompt(task, exemplars, question);
    case 'zero-shot-cot':
      return zeroShotCotPrompt(task, question);
    case 'zero-shot-direct':
      return zeroShotDirectPrompt(task, question);
  }
}

/** The completion of any of the four formats; the direct ones drop the rationale. */
export function completionFor(format: FormatName, task: Task, rationale: string, answer: string): string {
  return isCotFormat(format) ? cotCompletion(task, rationale, answer) : directCompletion(task, answer);
}

/**
 * A prompt as a chat model's user turn (instruct models, prompting.chatTemplate): the exemplars and
 * the question as the prompt has them, without the answer cue that opens its last line, since the
 * assistant's turn opens the answer there. Zero-shot CoT keeps its trigger as the user's last line:
 *   `[exemplars]Q: ...\nA:`                      → `[exemplars]Q: ...`
 *   `Q: ...\nA: Let's think step by step.`       → `Q: ...\nLet's think step by step.`
 * A prompt in no such layout (a replayed or user-given example) is the user turn as it is, trimmed.
 */
export function chatUserTurn(prompt: string): string {
  const lineAt = prompt.lastIndexOf('\n') + 1;
  const last = prompt.slice(lineAt);
  if (!last.startsWith(ANSWER_CUE)) return prompt.trim();
  const rest = last.slice(ANSWER_CUE.length).trim();
  const before = prompt.slice(0, lineAt).trimEnd();
  return (rest === '' ? before : `${before}\n${rest}`).trim();
}

/** A completion as the assistant's turn: without the space that joins it to the answer cue. */
export function chatAssistantTurn(completion: string): string {
  return completion.trim();
}

export interface RationaleSplit {
  /** The reasoning before the final answer sentence, trimmed ('' when there is none). */
  rationale: string;
  /** From the last "The answer is" to the end of the text, trimmed; null when the text has none. */
  answerSentence: string | null;
}

/**
 * Splits a sampled path at its last "The answer is" (the paper's phrase, case as written). Without
 * one (an answer found by a task's fallback, e.g. `\boxed{42}`) the whole text is the rationale.
 */
export function splitRationale(text: string): RationaleSplit {
  const at = text.lastIndexOf(ANSWER_PHRASE);
  if (at < 0) return { rationale: text.trim(), answerSentence: null };
  return { rationale: text.slice(0, at).trim(), answerSentence: text.slice(at).trim() };
}
