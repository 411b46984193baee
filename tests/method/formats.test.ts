import {
  COMPLETION_STOP_STRINGS,
  completionFor,
  cotCompletion,
  cotExemplar,
  directCompletion,
  directExemplar,
  fewShotCotPrompt,
  fewShotDirectPrompt,
  promptFor,
  splitRationale,
  zeroShotCotPrompt,
  zeroShotDirectPrompt,
} from '../../method/formats';
import { mixedFormats } from '../../method/mixed-formats';
import { FORMAT_NAMES } from '../../method/types';
import type { Exemplar, SampledPath, Task } from '../../method/types';
import { answerPaths } from '../../method/vote';
import { numberTask, question } from './number-task';

const task = numberTask();
const q = question('q1', 'Tom has 3 apples and buys 2 more. How many apples does he have?');
const trees: Exemplar = {
  question: 'Q: There are 15 trees. Workers plant more until there are 21. How many did they plant?',
  rationale: 'There are 21 - 15 = 6 more trees.',
  answer: '6',
};
const cars: Exemplar = {
  question: 'Q: There are 3 cars and 2 more arrive. How many cars are there?',
  rationale: 'There are 3 + 2 = 5 cars.',
  answer: '5',
};

describe('prompts (Table 2), byte for byte', () => {
  it('renders exemplars with and without rationale, each ending in a blank line', () => {
    expect(cotExemplar(task, trees)).toBe(
      'Q: There are 15 trees. Workers plant more until there are 21. How many did they plant?\n' +
        'A: There are 21 - 15 = 6 more trees. The answer is 6.\n\n',
    );
    expect(directExemplar(task, trees)).toBe(
      'Q: There are 15 trees. Workers plant more until there are 21. How many did they plant?\n' +
        'A: The answer is 6.\n\n',
    );
  });

  it('few-shot CoT: [CoT exemplars]\\n[Question]\\nA:', () => {
    expect(fewShotCotPrompt(task, [trees, cars], q)).toBe(
      'Q: There are 15 trees. Workers plant more until there are 21. How many did they plant?\n' +
        'A: There are 21 - 15 = 6 more trees. The answer is 6.\n' +
        '\n' +
        'Q: There are 3 cars and 2 more arrive. How many cars are there?\n' +
        'A: There are 3 + 2 = 5 cars. The answer is 5.\n' +
        '\n' +
        'Q: Tom has 3 apples and buys 2 more. How many apples does he have?\n' +
        'A:',
    );
  });

  it('few-shot direct: [direct exemplars]\\n[Question]\\nA:', () => {
    expect(fewShotDirectPrompt(task, [trees, cars], q)).toBe(
      'Q: There are 15 trees. Workers plant more until there are 21. How many did they plant?\n' +
        'A: The answer is 6.\n' +
        '\n' +
        'Q: There are 3 cars and 2 more arrive. How many cars are there?\n' +
        'A: The answer is 5.\n' +
        '\n' +
        'Q: Tom has 3 apples and buys 2 more. How many apples does he have?\n' +
        'A:',
    );
  });

  it("zero-shot CoT: [Question]\\nA: Let's think step by step.", () => {
    expect(zeroShotCotPrompt(task, q)).toBe(
      "Q: Tom has 3 apples and buys 2 more. How many apples does he have?\nA: Let's think step by step.",
    );
  });

  it('zero-shot direct: [Question]\\nA:', () => {
    expect(zeroShotDirectPrompt(task, q)).toBe(
      'Q: Tom has 3 apples and buys 2 more. How many apples does he have?\nA:',
    );
  });

  it('completions start with a space and end at the answer full stop', () => {
    expect(cotCompletion(task, 'He has 3 + 2 = 5 apples.', '5')).toBe(
      ' He has 3 + 2 = 5 apples. The answer is 5.',
    );
    expect(cotCompletion(task, '  He has 3 + 2 = 5 apples.\n', '5')).toBe(
      ' He has 3 + 2 = 5 apples. The answer is 5.',
    );
    expect(directCompletion(task, '5')).toBe(' The answer is 5.');
    expect(COMPLETION_STOP_STRINGS).toEqual(['\n\n']);
    for (const c of [cotCompletion(task, 'a\nb', '1'), directCompletion(task, '1')]) {
      for (const stop of COMPLETION_STOP_STRINGS) expect(c.includes(stop)).toBe(false);
    }
  });

  it('a zero-shot prompt plus its completion reads exactly as an exemplar (without its blank line)', () => {
    const asExemplar: Exemplar = {
      question: task.prompts.formatQuestion(q),
      rationale: 'He has 3 + 2 = 5.',
      answer: '5',
    };
    expect(`${zeroShotDirectPrompt(task, q)}${cotCompletion(task, 'He has 3 + 2 = 5.', '5')}\n\n`).toBe(
      cotExemplar(task, asExemplar),
    );
    expect(`${zeroShotDirectPrompt(task, q)}${directCompletion(task, '5')}\n\n`).toBe(
      directExemplar(task, asExemplar),
    );
  });

  it("uses the task's own question and answer rendering", () => {
    const mc: Task = {
      ...task,
      prompts: {
        formatQuestion: (x) => `Q: ${x.text}\nAnswer Choices: (A) red (B) blue`,
        formatAnswer: (a) => `The answer is (${a}).`,
      },
    };
    expect(zeroShotCotPrompt(mc, question('c', 'Sky colour?'))).toBe(
      "Q: Sky colour?\nAnswer Choices: (A) red (B) blue\nA: Let's think step by step.",
    );
    expect(directCompletion(mc, 'B')).toBe(' The answer is (B).');
  });

  it('an exemplar without rationale has no double space', () => {
    expect(cotExemplar(task, { ...trees, rationale: '' })).toBe(directExemplar(task, trees));
  });

  it('promptFor / completionFor dispatch to the four builders', () => {
    expect(promptFor('few-shot-cot', task, q, [trees])).toBe(fewShotCotPrompt(task, [trees], q));
    expect(promptFor('few-shot-direct', task, q, [trees])).toBe(fewShotDirectPrompt(task, [trees], q));
    expect(promptFor('zero-shot-cot', task, q, [trees])).toBe(zeroShotCotPrompt(task, q));
    expect(promptFor('zero-shot-direct', task, q)).toBe(zeroShotDirectPrompt(task, q));
    expect(completionFor('few-shot-cot', task, 'R.', '1')).toBe(' R. The answer is 1.');
    expect(completionFor('zero-shot-cot', task, 'R.', '1')).toBe(' R. The answer is 1.');
    expect(completionFor('few-shot-direct', task, 'R.', '1')).toBe(' The answer is 1.');
    expect(completionFor('zero-shot-direct', task, 'R.', '1')).toBe(' The answer is 1.');
  });
});

describe('splitRationale', () => {
  it.each([
    ['He has 3 + 2 = 5. The answer is 5.', 'He has 3 + 2 = 5.', 'The answer is 5.'],
    [' Step one.\nStep two.\nThe answer is 5.\n', 'Step one.\nStep two.', 'The answer is 5.'],
    ['The answer is 4? No. The answer is 5.', 'The answer is 4? No.', 'The answer is 5.'],
    ['So 5. The answer is 5.\n\nQ: next one', 'So 5.', 'The answer is 5.\n\nQ: next one'],
    ['The answer is 5.', '', 'The answer is 5.'],
    ['so the answer is 5.', 'so the answer is 5.', null],
    ['It is \\boxed{5}.', 'It is \\boxed{5}.', null],
    ['', '', null],
  ])('%j', (text, rationale, answerSentence) => {
    expect(splitRationale(text)).toEqual({ rationale, answerSentence });
  });
});

describe('mixedFormats', () => {
  const path = (questionId: string, pathIndex: number, text: string): SampledPath => ({
    questionId,
    pathIndex,
    text,
    sumLogprob: -1,
    finishReason: 'stop',
  });
  const kept = (questionId: string, ...texts: [number, string][]) =>
    answerPaths(
      task,
      questionId === q.id ? q : question(questionId, `Question ${questionId}?`),
      texts.map(([i, t]) => path(questionId, i, t)),
    );

  it('renders one kept path in all four formats, byte for byte', () => {
    const paths = kept('q1', [3, 'He has 3 + 2 = 5 apples. The answer is 5.\n\nQ: what next']);
    const out = mixedFormats(paths, FORMAT_NAMES, { task, questions: [q], exemplars: [[trees]], seed: 1 });
    expect(out).toEqual([
      {
        prompt:
          'Q: There are 15 trees. Workers plant more until there are 21. How many did they plant?\n' +
          'A: There are 21 - 15 = 6 more trees. The answer is 6.\n\n' +
          'Q: Tom has 3 apples and buys 2 more. How many apples does he have?\nA:',
        completion: ' He has 3 + 2 = 5 apples. The answer is 5.',
        format: 'few-shot-cot',
        questionId: 'q1',
        pathId: 'q1#3',
      },
      {
        prompt:
          'Q: There are 15 trees. Workers plant more until there are 21. How many did they plant?\n' +
          'A: The answer is 6.\n\n' +
          'Q: Tom has 3 apples and buys 2 more. How many apples does he have?\nA:',
        completion: ' The answer is 5.',
        format: 'few-shot-direct',
        questionId: 'q1',
        pathId: 'q1#3',
      },
      {
        prompt:
          "Q: Tom has 3 apples and buys 2 more. How many apples does he have?\nA: Let's think step by step.",
        completion: ' He has 3 + 2 = 5 apples. The answer is 5.',
        format: 'zero-shot-cot',
        questionId: 'q1',
        pathId: 'q1#3',
      },
      {
        prompt: 'Q: Tom has 3 apples and buys 2 more. How many apples does he have?\nA:',
        completion: ' The answer is 5.',
        format: 'zero-shot-direct',
        questionId: 'q1',
        pathId: 'q1#3',
      },
    ]);
  });

  it('emits (path, format) pairs in input order, only for the formats asked', () => {
    const paths = [
      ...kept('a', [0, 'R0. The answer is 1.'], [2, 'R2. The answer is 1.']),
      ...kept('b', [1, 'S. The answer is 2.']),
    ];
    const questions = [question('a', 'Question a?'), question('b', 'Question b?')];
    const out = mixedFormats(paths, ['zero-shot-direct', 'zero-shot-cot'], { task, questions, seed: 0 });
    expect(out.map((e) => `${e.pathId} ${e.format}`)).toEqual([
      'a#0 zero-shot-direct',
      'a#0 zero-shot-cot',
      'a#2 zero-shot-direct',
      'a#2 zero-shot-cot',
      'b#1 zero-shot-direct',
      'b#1 zero-shot-cot',
    ]);
  });

  it('trains direct formats on the majority answer as most kept paths stated it, ties to the lowest index', () => {
    const questions = [question('a', 'Question a?'), question('b', 'Question b?')];
    const paths = [
      ...kept(
        'a',
        [0, 'X. The answer is 1,234.'],
        [1, 'Y. The answer is 1234.'],
        [2, 'Z. The answer is 1234.'],
      ),
      ...kept('b', [4, 'X. The answer is 1234.'], [3, 'Y. The answer is 1,234.']),
    ];
    const out = mixedFormats(paths, ['zero-shot-direct', 'zero-shot-cot'], { task, questions, seed: 0 });
    const direct = out
      .filter((e) => e.format === 'zero-shot-direct')
      .map((e) => `${e.pathId}${e.completion}`);
    expect(direct).toEqual([
      'a#0 The answer is 1234.',
      'a#1 The answer is 1234.',
      'a#2 The answer is 1234.',
      'b#4 The answer is 1,234.',
      'b#3 The answer is 1,234.',
    ]);
    // CoT keeps each path's own statement.
    const cot = out.filter((e) => e.format === 'zero-shot-cot').map((e) => e.completion);
    expect(cot).toEqual([
      ' X. The answer is 1,234.',
      ' Y. The answer is 1234.',
      ' Z. The answer is 1234.',
      ' X. The answer is 1234.',
      ' Y. The answer is 1,234.',
    ]);
  });

  it('never trains a direct answer under a CoT prompt: a path without rationale gets only direct formats', () => {
    const paths = kept('q1', [0, 'The answer is 5.'], [1, 'He has 5. The answer is 5.']);
    const out = mixedFormats(paths, FORMAT_NAMES, {
      task,
      questions: [q],
      exemplars: [[trees, cars]],
      seed: 2,
    });
    expect(out.map((e) => `${e.pathId} ${e.format}`)).toEqual([
      'q1#0 few-shot-direct',
      'q1#0 zero-shot-direct',
      'q1#1 few-shot-cot',
      'q1#1 few-shot-direct',
      'q1#1 zero-shot-cot',
      'q1#1 zero-shot-direct',
    ]);
    for (const e of out) {
      const cotPrompt = e.format === 'few-shot-cot' || e.format === 'zero-shot-cot';
      expect(e.completion === ' The answer is 5.').toBe(!cotPrompt);
      expect(e.prompt.endsWith("Let's think step by step.")).toBe(e.format === 'zero-shot-cot');
      expect(e.prompt.includes('There are 3 + 2 = 5 cars.')).toBe(e.format === 'few-shot-cot');
    }
  });

  it('draws exemplar sets and shots per (seed, question, path, format), reproducibly', () => {
    const sets: Exemplar[][] = Array.from({ length: 5 }, (_, s) =>
      Array.from({ length: 4 }, (_, i) => ({
        question: `Q: set ${s} item ${i}?`,
        rationale: `R${s}${i}.`,
        answer: `${i}`,
      })),
    );
    const paths = kept(
      'q1',
      ...Array.from({ length: 20 }, (_, i): [number, string] => [i, `W${i}. The answer is 5.`]),
    );
    const run = (seed: number) =>
      mixedFormats(paths, ['few-shot-cot', 'few-shot-direct'], {
        task,
        questions: [q],
        exemplars: sets,
        shots: 2,
        seed,
      });
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    const shown = a.map((e) =>
      [...e.prompt.matchAll(/Q: set (\d) item (\d)\?/g)].map((m) => [Number(m[1]), Number(m[2])]),
    );
    for (const ex of shown) {
      expect(ex).toHaveLength(2);
      expect(ex[0][0]).toBe(ex[1][0]); // both from one set
      expect(ex[0][1]).toBeLessThan(ex[1][1]); // in the set's order
    }
    expect(new Set(shown.map((ex) => ex[0][0])).size).toBeGreaterThan(2);
    // The two formats of one path draw independently.
    expect(shown.some((ex, i) => i % 2 === 0 && JSON.stringify(ex) !== JSON.stringify(shown[i + 1]))).toBe(
      true,
    );
  });

  it('never shows a question as its own exemplar', () => {
    const own: Exemplar = { question: task.prompts.formatQuestion(q), rationale: 'Own.', answer: '5' };
    const paths = kept('q1', [0, 'He has 5. The answer is 5.']);
    const [e] = mixedFormats(paths, ['few-shot-cot'], {
      task,
      questions: [q],
      exemplars: [[own, trees]],
      seed: 0,
    });
    expect(e.prompt).toBe(fewShotCotPrompt(task, [trees], q));
    expect(() =>
      mixedFormats(paths, ['few-shot-cot'], { task, questions: [q], exemplars: [[own]], seed: 0 }),
    ).toThrow(/holds only that question/);
  });

  it('rejects kept paths that abstain or disagree, unknown questions and few-shot formats without exemplars', () => {
    const questions = [q];
    expect(() =>
      mixedFormats(kept('q1', [0, 'No idea.']), ['zero-shot-cot'], { task, questions, seed: 0 }),
    ).toThrow(/q1#0 has no answer/);
    const disagree = kept('q1', [0, 'A. The answer is 5.'], [1, 'B. The answer is 6.']);
    expect(() => mixedFormats(disagree, ['zero-shot-cot'], { task, questions, seed: 0 })).toThrow(/disagree/);
    expect(() =>
      mixedFormats(kept('zz', [0, 'A. The answer is 5.']), ['zero-shot-cot'], { task, questions, seed: 0 }),
    ).toThrow(/no question with id 'zz'/);
    const ok = kept('q1', [0, 'A. The answer is 5.']);
    expect(() => mixedFormats(ok, ['few-shot-direct'], { task, questions, seed: 0 })).toThrow(/exemplar set/);
    expect(() => mixedFormats(ok, ['few-shot-cot'], { task, questions, exemplars: [[]], seed: 0 })).toThrow(
      /exemplar set/,
    );
    expect(() =>
      mixedFormats(ok, ['few-shot-cot'], { task, questions, exemplars: [[trees]], shots: 0, seed: 0 }),
    ).toThrow(/shots/);
  });
});
