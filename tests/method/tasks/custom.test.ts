import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zeroShotCotPrompt } from '../../../method/formats';
import { BadInputError } from '../../../base/errors';
import { getTask, type TaskOptions } from '../../../method/tasks';
import type { Question, SampledPath } from '../../../method/types';
import { voteOnQuestion } from '../../../method/vote';

const EXAMPLES = path.resolve(__dirname, '../../../examples/custom');
const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-custom-task-'));
let files = 0;

/** A JSONL file of these lines (objects, or raw text for a line that is not JSON). */
function jsonl(lines: unknown[]): string {
  const file = path.join(dir, `data-${++files}.jsonl`);
  writeFileSync(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return file;
}

async function load(options: TaskOptions, lines: unknown[]) {
  const file = jsonl(lines);
  const task = getTask('custom', options);
  return { task, file, ...(await task.loadQuestions(file, { policy: 'skip-and-report' })) };
}

function paths(question: Question, texts: string[]): SampledPath[] {
  return texts.map((text, pathIndex) => ({
    questionId: question.id,
    pathIndex,
    text,
    sumLogprob: -1,
    finishReason: 'stop',
  }));
}

const PLANETS = ['Mercury', 'Venus', 'Earth', 'Mars'];

describe('custom task: multiple choice by config', () => {
  it('renders a choices list into the question as ARC does, and stores a 0-based gold as its label', async () => {
    const { task, questions, bad } = await load(
      { questionField: 'q', choicesField: 'options', answerField: 'gold', goldType: 'index0' },
      [
        { q: 'Which planet is largest of these?', options: PLANETS, gold: 2 },
        { q: 'Which planet is closest to the Sun?', options: PLANETS, gold: '0' },
        { q: 'Unlabeled: which is red?', options: PLANETS },
      ],
    );
    expect(bad).toEqual([]);
    const [q] = questions;
    expect(q.text).toBe(
      'Which planet is largest of these? Answer Choices: (A) Mercury (B) Venus (C) Earth (D) Mars',
    );
    expect(q.choices).toEqual(PLANETS.map((text, i) => ({ label: 'ABCD'[i], text })));
    expect(questions.map((x) => x.gold)).toEqual([['C'], ['A'], null]);
    // The prompt the sampler sees carries the options, as for the built-in multiple-choice tasks.
    expect(zeroShotCotPrompt(task, q)).toBe(`Q: ${q.text}\nA: Let's think step by step.`);

    // Answers are extracted and scored as for ARC: by label, bracketed label or the option's text.
    for (const right of ['The answer is (C).', 'The answer is C.', 'So the answer is Earth.'])
      expect(task.isCorrect(task.extractAnswer(right, q), q.gold!, q)).toBe(true);
    for (const wrong of ['The answer is (B).', 'The answer is Pluto.', 'no answer here'])
      expect(task.isCorrect(task.extractAnswer(wrong, q), q.gold!, q)).toBe(false);

    // The vote counts "(C)", "C" and "Earth" as one answer.
    const voted = voteOnQuestion(
      task,
      q,
      paths(q, ['The answer is (C).', 'The answer is Earth.', 'The answer is (B).', 'The answer is c']),
    );
    expect(voted.vote.answer).toBe('C');
    expect(voted.vote.votes).toBe(3);
  });

  it('reads {label, text} options and a gold given as a label, a letter, a text or a 1-based index', async () => {
    const options = [
      { label: '1', text: 'red' },
      { label: '2', text: 'green' },
      { label: 3, text: 'Blue sky' },
    ];
    const line = (gold: unknown) => ({ q: 'Which colour is the sky?', c: options, a: gold });
    const cases: [TaskOptions['goldType'], unknown, string][] = [
      ['label', '3', '3'],
      ['label', 3, '3'],
      ['letter', 'c', '3'],
      ['letter', '(B)', '2'],
      ['text', 'Blue sky', '3'],
      ['text', 'blue sky.', '3'],
      ['index1', 1, '1'],
      ['index0', 1, '2'],
      ['auto', '2', '2'],
      ['auto', 'green', '2'],
      [undefined, 'RED', '1'],
    ];
    for (const [goldType, gold, label] of cases) {
      const { questions, bad } = await load(
        { questionField: 'q', choicesField: 'c', answerField: 'a', goldType },
        [line(gold)],
      );
      expect([goldType, gold, bad, questions[0]?.gold]).toEqual([goldType, gold, [], [label]]);
    }
    const { task, questions } = await load({ questionField: 'q', choicesField: 'c', answerField: 'a' }, [
      line('3'),
    ]);
    expect(questions[0].text).toBe('Which colour is the sky? Answer Choices: (1) red (2) green (3) Blue sky');
    expect(task.isCorrect(task.extractAnswer('The answer is (3).', questions[0]), ['3'], questions[0])).toBe(
      true,
    );
    expect(
      task.isCorrect(task.extractAnswer('The answer is blue sky.', questions[0]), ['3'], questions[0]),
    ).toBe(true);
  });

  it('an answer pattern still applies; the span is then normalised to a label', async () => {
    const { task, questions } = await load(
      { questionField: 'q', choicesField: 'c', answerField: 'a', answerPattern: '/final: (.+)$/im' },
      [{ q: 'Pick one', c: ['yes', 'no'], a: 'B' }],
    );
    const q = questions[0];
    expect(task.isCorrect(task.extractAnswer('I think so.\nFinal: no', q), q.gold!, q)).toBe(true);
    expect(task.isCorrect(task.extractAnswer('Final: (A)', q), q.gold!, q)).toBe(false);
  });

  it('a gold that names no option, a bad choices list or a wrong type is a bad line naming file:line:field', async () => {
    const { file, questions, bad } = await load(
      { questionField: 'q', choicesField: 'opts', answerField: 'gold', goldType: 'index0' },
      [
        { q: 'ok', opts: ['a', 'b', 'c', 'd'], gold: 3 },
        { q: 'out of range', opts: ['a', 'b', 'c', 'd'], gold: 4 },
        { q: 'negative', opts: ['a', 'b'], gold: -1 },
        { q: 'not an index', opts: ['a', 'b'], gold: 'b' },
        { q: 'one option', opts: ['a'], gold: 0 },
        { q: 'mixed', opts: ['a', { label: 'B', text: 'b' }], gold: 0 },
        {
          q: 'repeated label',
          opts: [
            { label: 'x', text: 'a' },
            { label: 'X', text: 'b' },
          ],
          gold: 0,
        },
        { q: 'no options', gold: 0 },
        { q: 'empty option', opts: ['a', ' '], gold: 0 },
      ],
    );
    expect(questions.map((q) => q.text)).toEqual(['ok Answer Choices: (A) a (B) b (C) c (D) d']);
    expect(bad.map((b) => `${b.file}:${b.line}: ${b.field}: ${b.problem}`)).toEqual([
      `${file}:2: gold: index 4 is out of range for 4 choices (0-based: 0-3)`,
      `${file}:3: gold: index -1 is out of range for 2 choices (0-based: 0-1)`,
      `${file}:4: gold: "b" is not a 0-based index (an integer 0-1)`,
      `${file}:5: opts: Too small: expected array to have >=2 items`,
      `${file}:6: opts: mixes strings and {label, text} objects: use one kind for every option`,
      `${file}:7: opts: label "X" is used twice`,
      `${file}:8: opts: missing (expected array)`,
      expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:9: opts\\.1: `)),
    ]);
    // fail-fast (the default) stops at the first, as a BadInputError naming file, line and field.
    const task = getTask('custom', {
      questionField: 'q',
      choicesField: 'opts',
      answerField: 'gold',
      goldType: 'index0',
    });
    const e = await task.loadQuestions(file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BadInputError);
    expect([(e as BadInputError).file, (e as BadInputError).line, (e as BadInputError).field]).toEqual([
      file,
      2,
      'gold',
    ]);
  });

  it('auto refuses a numeric gold (0- or 1-based?) and a text that names no option, saying what to set', async () => {
    const { file, bad } = await load({ questionField: 'q', choicesField: 'c', answerField: 'a' }, [
      { q: 'numeric', c: ['x', 'y'], a: 1 },
      { q: 'unknown', c: ['x', 'y'], a: 'z' },
      { q: 'letter out of range', c: ['x', 'y'], a: 'C' },
    ]);
    expect(bad.map((b) => `${b.file}:${b.line}: ${b.field}: ${b.problem}`)).toEqual([
      `${file}:1: a: 1 is a number: set goldType to "index0" (0 = the first option) or "index1" (1 = the first option)`,
      `${file}:2: a: "z" names no option: not one of the labels A, B nor an option's text`,
      `${file}:3: a: "C" names no option: not one of the labels A, B nor an option's text`,
    ]);
    const letters = await load(
      { questionField: 'q', choicesField: 'c', answerField: 'a', goldType: 'letter' },
      [{ q: 'letter out of range', c: ['x', 'y'], a: 'C' }],
    );
    expect(letters.bad.map((b) => `${b.field}: ${b.problem}`)).toEqual([
      'a: letter C is out of range for 2 choices (A-B)',
    ]);
  });

  it('options that do not fit together are refused before any line is read', () => {
    expect(() => getTask('custom', { questionField: 'q', choicesField: 'c', answerType: 'number' })).toThrow(
      'task custom: answerType: not used with choicesField: the answers are options (leave answerType out)',
    );
    expect(() => getTask('custom', { questionField: 'q', goldType: 'index0' })).toThrow(
      'task custom: goldType: only used with choicesField (multiple-choice data)',
    );
    expect(() =>
      getTask('custom', { questionField: 'q', choicesField: 'c', goldType: 'index2' as never }),
    ).toThrow(/^task custom: goldType: /);
  });
});

describe('custom task: the README examples', () => {
  it('numeric answers under renamed fields (examples/custom/numeric.jsonl)', async () => {
    const task = getTask('custom', {
      questionField: 'problem',
      answerField: 'solution.value',
      idField: 'uid',
      answerType: 'number',
    });
    const { questions } = await task.loadQuestions(path.join(EXAMPLES, 'numeric.jsonl'));
    expect(questions.length).toBeGreaterThanOrEqual(4);
    expect(questions[0]).toMatchObject({ id: 'n-1', gold: ['42'] });
    expect(task.isCorrect(task.extractAnswer('6 * 7 = 42. The answer is 42.'), questions[0].gold!)).toBe(
      true,
    );
  });

  it('a choices list with a 0-based gold (examples/custom/multiple-choice.jsonl)', async () => {
    const task = getTask('custom', {
      questionField: 'question',
      choicesField: 'choices',
      answerField: 'answer',
      goldType: 'index0',
    });
    const { questions } = await task.loadQuestions(path.join(EXAMPLES, 'multiple-choice.jsonl'));
    expect(questions.length).toBeGreaterThanOrEqual(4);
    for (const q of questions) {
      expect(q.text).toContain(' Answer Choices: (A) ');
      expect(q.gold).toHaveLength(1);
      expect(q.choices!.map((c) => c.label)).toContain(q.gold![0]);
    }
  });
});
