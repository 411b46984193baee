import { fewShotCotPrompt } from '../../method/formats';
import { buildExemplarSets, exemplarFromVote } from '../../method/self-generated-exemplars';
import {
  dedupeQuestions,
  generatedQuestions,
  normalizeQuestionText,
  parseGeneratedQuestion,
  QUESTION_STOP_STRINGS,
  questionGenerationPrompt,
} from '../../method/self-generated-questions';
import type { SampledPath } from '../../method/types';
import { voteOnQuestion } from '../../method/vote';
import type { VotedQuestion } from '../../method/vote';
import { numberTask, question } from './number-task';

const task = numberTask();

describe('self-generated questions', () => {
  const seeds = Array.from({ length: 8 }, (_, i) => question(`s${i}`, `Seed question number ${i}?`));

  it('shows k seed questions, chosen and ordered by the seed, then asks for the next', () => {
    const { prompt, shown } = questionGenerationPrompt(task, seeds, { k: 3, seed: 'run:0:gen:1' });
    expect(shown).toHaveLength(3);
    expect(new Set(shown).size).toBe(3);
    const byId = new Map(seeds.map((s) => [s.id, s]));
    expect(prompt).toBe(`${shown.map((id) => `Q: ${byId.get(id)!.text}\n\n`).join('')}Q:`);
    expect(questionGenerationPrompt(task, seeds, { k: 3, seed: 'run:0:gen:1' })).toEqual({ prompt, shown });
    const others = Array.from({ length: 10 }, (_, i) =>
      questionGenerationPrompt(task, seeds, { k: 3, seed: i }).shown.join(),
    );
    expect(new Set(others).size).toBeGreaterThan(5);
    expect(QUESTION_STOP_STRINGS).toEqual(['\n']);
  });

  it('renders byte for byte with k = all seeds in a seeded order', () => {
    const two = seeds.slice(0, 2);
    const { prompt, shown } = questionGenerationPrompt(task, two, { k: 2, seed: 5 });
    expect(prompt).toBe(
      shown[0] === 's0'
        ? 'Q: Seed question number 0?\n\nQ: Seed question number 1?\n\nQ:'
        : 'Q: Seed question number 1?\n\nQ: Seed question number 0?\n\nQ:',
    );
    expect(questionGenerationPrompt(task, seeds, { seed: 1 }).shown).toHaveLength(4);
  });

  it('refuses k larger than the seed questions, or not positive', () => {
    expect(() => questionGenerationPrompt(task, seeds.slice(0, 2), { k: 3, seed: 0 })).toThrow(
      /3 seed questions wanted, 2/,
    );
    expect(() => questionGenerationPrompt(task, seeds, { k: 0, seed: 0 })).toThrow(/k must be/);
  });

  it.each([
    [
      ' Tom has 4 apples and eats 1. How many are left?\n\nQ: Next?',
      'Tom has 4 apples and eats 1. How many are left?',
    ],
    ['\n  Q: What is 2 plus 3 times 4?  \nA: 14', 'What is 2 plus 3 times 4?'],
    [' Tom has 4 apples.\nHow many are left?', null], // the first line is not a question
    [' Tom has 4 apples. How many are', null], // cut off
    ['', null],
    ['\n\n', null],
    [' Why?', null], // too short
  ])('parses %j', (output, expected) => {
    expect(parseGeneratedQuestion(output)).toBe(expected);
  });

  it('takes length bounds', () => {
    expect(parseGeneratedQuestion(' Why?', { minChars: 3 })).toBe('Why?');
    expect(parseGeneratedQuestion(' How many apples?', { maxChars: 5 })).toBeNull();
    expect(parseGeneratedQuestion(` ${'x'.repeat(1000)}?`)).toBeNull(); // over the default 1000
    expect(parseGeneratedQuestion(` ${'x'.repeat(999)}?`)).toBe(`${'x'.repeat(999)}?`);
  });

  it('normalises question text for comparison', () => {
    expect(normalizeQuestionText('  How many  apples,\tdoes Tom have?! ')).toBe(
      'how many apples does tom have',
    );
    expect(normalizeQuestionText('It costs $1,234.')).toBe('it costs $1234');
  });

  it('dedupes against known questions and among the candidates, keeping the first', () => {
    const r = dedupeQuestions(
      [
        'How many apples does Tom have?',
        'how many APPLES, does tom have',
        'What is 2 + 2?',
        'What is 2+2?',
        'what is 2 + 2',
      ],
      ['How many apples does Tom have ?'],
    );
    expect(r.fresh).toEqual(['What is 2 + 2?', 'What is 2+2?']);
    expect(r.duplicates).toEqual([
      'How many apples does Tom have?',
      'how many APPLES, does tom have',
      'what is 2 + 2',
    ]);
  });

  it('names new questions like loaded ones, unlabeled', () => {
    expect(generatedQuestions(['A?', 'B?'], 'generated-r1.jsonl')).toEqual([
      { id: 'generated-r1.jsonl:1', text: 'A?', gold: null, source: { file: 'generated-r1.jsonl', line: 1 } },
      { id: 'generated-r1.jsonl:2', text: 'B?', gold: null, source: { file: 'generated-r1.jsonl', line: 2 } },
    ]);
  });
});

describe('self-generated few-shot CoT exemplars', () => {
  /** A question answered by zero-shot CoT paths: [text, sumLogprob] each. */
  function voted(id: string, paths: [string, number][]): VotedQuestion {
    const q = question(id, `Question ${id}?`);
    const sampled: SampledPath[] = paths.map(([text, sumLogprob], pathIndex) => ({
      questionId: id,
      pathIndex,
      text,
      sumLogprob,
      finishReason: 'stop',
    }));
    return voteOnQuestion(task, q, sampled);
  }

  it("takes the question's most probable majority path that has a rationale and an answer sentence", () => {
    const c = voted('a', [
      ['The answer is 5.', 0], // no rationale
      ['Wrong way. The answer is 6.', -0.5], // not the majority
      ['Long way round. The answer is 5.', -4],
      ['Short way. The answer is 5.', -2],
      ['Also short. The answer is 5.', -2],
    ]);
    expect(exemplarFromVote(task, c)).toEqual({
      question: 'Q: Question a?',
      rationale: 'Short way.',
      answer: '5',
    });
    expect(exemplarFromVote(task, voted('b', [['no idea', -1]]))).toBeNull();
    expect(exemplarFromVote(task, voted('c', [['The answer is 5.', -1]]))).toBeNull();
  });

  // Confidence of question i: (6 - i) of 6 paths agree; question 'z' has no usable path.
  const candidates = [
    ...Array.from({ length: 6 }, (_, i) =>
      voted(
        `q${i}`,
        Array.from({ length: 6 }, (_, j): [string, number] => [
          j < 6 - i ? `Work ${i}. The answer is ${i}.` : `Other ${j}. The answer is ${100 + j}.`,
          -1,
        ]),
      ),
    ),
    voted('z', [['The answer is 1.', -1]]),
  ];

  it('builds templates of distinct exemplars from the most confident questions only', () => {
    const sets = buildExemplarSets(candidates, { task, templates: 5, shots: 2, poolSize: 3, seed: 9 });
    expect(sets).toHaveLength(5);
    for (const set of sets) {
      expect(set).toHaveLength(2);
      expect(new Set(set.map((e) => e.question)).size).toBe(2);
      for (const e of set)
        expect(['Q: Question q0?', 'Q: Question q1?', 'Q: Question q2?']).toContain(e.question);
    }
    expect(sets[0][0].rationale).toMatch(/^Work \d\.$/);
    // Each exemplar states its question's majority answer.
    for (const e of sets.flat()) expect(e.question).toBe(`Q: Question q${e.answer}?`);
  });

  it('is reproducible and independent of the order of the candidates', () => {
    const a = buildExemplarSets(candidates, { task, templates: 4, shots: 3, seed: 'r1' });
    expect(
      buildExemplarSets(candidates.slice().reverse(), { task, templates: 4, shots: 3, seed: 'r1' }),
    ).toEqual(a);
    expect(buildExemplarSets(candidates, { task, templates: 4, shots: 3, seed: 'r2' })).not.toEqual(a);
  });

  it('defaults to 20 templates of 4 shots, usable as few-shot CoT prompts', () => {
    const sets = buildExemplarSets(candidates, { task, seed: 0 });
    expect(sets).toHaveLength(20);
    for (const set of sets) expect(set).toHaveLength(4);
    const prompt = fewShotCotPrompt(task, sets[0], question('new', 'New question?'));
    expect(
      prompt.startsWith(
        `${sets[0][0].question}\nA: ${sets[0][0].rationale} The answer is ${sets[0][0].answer}.\n\n`,
      ),
    ).toBe(true);
    expect(prompt.endsWith('\n\nQ: New question?\nA:')).toBe(true);
  });

  it('refuses when too few questions have a usable majority path', () => {
    expect(() => buildExemplarSets(candidates, { task, shots: 7, seed: 0 })).toThrow(
      /7 shots wanted but only 6/,
    );
    expect(() => buildExemplarSets(candidates, { task, templates: 0, seed: 0 })).toThrow(/templates must be/);
  });
});
