import type { Question, Task } from '../../method/types';

/**
 * A minimal number-answer Task for the method's tests, independent of the real tasks: the answer
 * is the rest of the line after the last "The answer is" (a final '.' dropped); normalising trims,
 * drops a trailing '.' and thousands commas. It records what extraction was shown, and throws if a
 * part of the interface these tests do not expect is used.
 */
export interface NumberTask extends Task {
  extracted: string[];
}

export function numberTask(): NumberTask {
  const extracted: string[] = [];
  const normalize = (answer: string): string => answer.trim().replace(/\.$/, '').replace(/,/g, '');
  return {
    name: 'custom',
    extracted,
    loadQuestions: () => {
      throw new Error('numberTask: loadQuestions is not expected in these tests');
    },
    extractAnswer(text: string): string | null {
      extracted.push(text);
      const at = text.lastIndexOf('The answer is');
      if (at < 0) return null;
      const answer = text
        .slice(at + 'The answer is'.length)
        .split('\n')[0]
        .trim()
        .replace(/\.$/, '');
      return answer === '' ? null : answer;
    },
    normalize,
    isCorrect(prediction: string | null, gold: string[]): boolean {
      return prediction !== null && gold.some((g) => normalize(g) === normalize(prediction));
    },
    prompts: {
      formatQuestion: (question: Question) => `Q: ${question.text}`,
      formatAnswer: (answer: string) => `The answer is ${answer}.`,
    },
  };
}

export function question(id: string, text: string, gold: string[] | null = null): Question {
  return { id, text, gold, source: { file: 'test.jsonl', line: 1 } };
}
