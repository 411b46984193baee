import { deriveSeed, Rng } from '../base/rng';
import type { Question, Task } from './types';

/**
 * The paper's self-generated questions: show the model a few existing questions in random order
 * and let it continue with a new one. Suits tasks whose questions are one line (arithmetic word
 * problems); a multi-line question (a passage, choices) would be cut at its first line by the parser.
 */

/** Where sampling a new question stops: at the end of its line. */
export const QUESTION_STOP_STRINGS: readonly string[] = ['\n'];

export interface QuestionPrompt {
  prompt: string;
  /** Ids of the questions shown, in the order shown. */
  shown: string[];
}

/**
 * k seed questions (chosen and ordered by a stream seeded from `seed`), each rendered as in the
 * task's prompts and followed by a blank line, then "Q:" for the model to continue.
 */
export function questionGenerationPrompt(
  task: Task,
  seedQuestions: readonly Question[],
  options: { k?: number; seed: number | string },
): QuestionPrompt {
  const k = options.k ?? 4;
  if (!Number.isInteger(k) || k < 1)
    throw new RangeError(`questionGenerationPrompt: k must be a positive integer, got ${k}`);
  if (seedQuestions.length < k) {
    throw new Error(`questionGenerationPrompt: ${k} seed questions wanted, ${seedQuestions.length} given`);
  }
  const rng = new Rng(deriveSeed(options.seed, 'question-generation'));
  const shown = rng.shuffle(seedQuestions).slice(0, k);
  return {
    prompt: `${shown.map((q) => `${task.prompts.formatQuestion(q)}\n\n`).join('')}Q:`,
    shown: shown.map((q) => q.id),
  };
}

export interface ParseQuestionOptions {
  minChars?: number; // default 10
  maxChars?: number; // default 1000
}

/**
 * The new question in a model's continuation: its first non-empty line, without a leading "Q:",
 * trimmed. Null unless it ends with '?' and its length is within bounds: a line that is not a
 * question is not repaired, it is discarded.
 */
export function parseGeneratedQuestion(output: string, options: ParseQuestionOptions = {}): string | null {
  const minChars = options.minChars ?? 10;
  const maxChars = options.maxChars ?? 1000;
  const line = output.split('\n').find((l) => l.trim() !== '');
  if (line === undefined) return null;
  const text = line
    .trim()
    .replace(/^Q:\s*/, '')
    .trim();
  if (!text.endsWith('?')) return null;
  if (text.length < minChars || text.length > maxChars) return null;
  return text;
}

/** Lower-case, punctuation removed, whitespace collapsed: two questions equal here are one question. */
export function normalizeQuestionText(text: string): string {
  return text
    .toLowerCase()
    .replace(/\p{P}+/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Candidates not already known (or seen earlier among the candidates), by normalised text. Keeps
 * the first occurrence, in the candidates' order.
 */
export function dedupeQuestions(
  candidates: readonly string[],
  known: Iterable<string>,
): { fresh: string[]; duplicates: string[] } {
  const seen = new Set<string>();
  for (const k of known) seen.add(normalizeQuestionText(k));
  const fresh: string[] = [];
  const duplicates: string[] = [];
  for (const c of candidates) {
    const key = normalizeQuestionText(c);
    if (key === '' || seen.has(key)) duplicates.push(c);
    else {
      seen.add(key);
      fresh.push(c);
    }
  }
  return { fresh, duplicates };
}

/** New unlabeled questions, named like loaded ones: `${file}:${line}` with 1-based lines. */
export function generatedQuestions(texts: readonly string[], file: string): Question[] {
  return texts.map((text, i) => ({
    id: `${file}:${i + 1}`,
    text,
    gold: null,
    source: { file, line: i + 1 },
  }));
}
