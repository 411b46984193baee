import * as path from 'node:path';
import { extractFinalAnswer } from '../answers/extract';
import { extractNumber, normalizeNumber } from '../answers/number';
import type { PromptPieces, Question, Task } from '../types';

/** The paper's prompt pieces: "Q: <question>" and "The answer is <answer>." (Table 2). */
export const paperPrompts: PromptPieces = {
  formatQuestion: (question: Question) => `Q: ${question.text}`,
  formatAnswer: (answer: string) => `The answer is ${answer}.`,
};

/** The id of a question in a file without ids: `<basename>:<line>`. */
export function lineId(file: string, line: number): string {
  return `${path.basename(file)}:${line}`;
}

/** isCorrect from a task's normalize: an abstention is wrong; otherwise any gold may match. */
export function matchesAnyGold(
  normalize: (answer: string, question?: Question) => string,
): Task['isCorrect'] {
  return (prediction, gold, question) => {
    if (prediction === null) return false;
    const p = normalize(prediction, question);
    return gold.some((g) => normalize(g, question) === p);
  };
}

/** The answer pieces of every task whose answers are numbers (gsm8k, arith). */
export const numericAnswers: Pick<Task, 'extractAnswer' | 'normalize' | 'isCorrect'> = {
  extractAnswer: (text) => extractNumber(extractFinalAnswer(text)),
  normalize: (answer) => normalizeNumber(answer),
  isCorrect: matchesAnyGold((answer) => normalizeNumber(answer)),
};
