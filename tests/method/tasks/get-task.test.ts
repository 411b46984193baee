import * as path from 'node:path';
import { BadInputError } from '../../../base/errors';
import { getTask, TASK_NAMES } from '../../../method/tasks';

const FIXTURES = path.resolve(__dirname, '../../fixtures/method');

describe('getTask', () => {
  it('done-when: gsm8k normalises an extracted "$1,234." to "1234"', () => {
    const t = getTask('gsm8k');
    expect(t.normalize(t.extractAnswer('... The answer is $1,234.')!)).toBe('1234');
  });

  it('knows every task; each has the paper prompt pieces', () => {
    expect(TASK_NAMES).toEqual(['gsm8k', 'drop', 'openbookqa', 'arc', 'anli', 'arith', 'custom']);
    for (const name of TASK_NAMES) {
      const t = name === 'custom' ? getTask(name, { questionField: 'q' }) : getTask(name);
      expect(t.name).toBe(name);
      const q = { id: 'x', text: 'What is 2 + 2?', gold: ['4'], source: { file: 'f', line: 1 } };
      expect(t.prompts.formatQuestion(q)).toBe('Q: What is 2 + 2?');
      expect(t.prompts.formatAnswer('4')).toBe('The answer is 4.');
    }
  });

  it('an unknown task name is bad input listing the known ones', () => {
    expect(() => getTask('gsm9k')).toThrow(BadInputError);
    expect(() => getTask('gsm9k')).toThrow(
      'task: name: unknown task "gsm9k"; known tasks: gsm8k, drop, openbookqa, arc, anli, arith, custom',
    );
  });

  it('custom needs a question field and a valid answer pattern', () => {
    expect(() => getTask('custom')).toThrow(
      'task custom: questionField: required: the JSONL field that holds the question',
    );
    expect(() => getTask('custom', { questionField: 'q', answerPattern: '(unclosed' })).toThrow(
      /^task custom: answerPattern: not a valid regular expression: /,
    );
    expect(() => getTask('custom', { questionField: 'a', answerField: 'a.b' })).toThrow(
      /field inside another/,
    );
  });

  it('custom reads nested fields, ids, rationales and several golds; compares as numbers', async () => {
    const t = getTask('custom', {
      questionField: 'prompt.text',
      answerField: 'label',
      idField: 'qid',
      rationaleField: 'why',
      answerType: 'number',
    });
    const file = path.join(FIXTURES, 'custom.jsonl');
    const { questions, bad } = await t.loadQuestions(file, { policy: 'skip-and-report' });
    expect(questions.map((q) => [q.id, q.text, q.gold, q.rationale])).toEqual([
      ['7', 'What is 6 times 7?', ['42'], '6 * 7 = 42.'],
      ['8', 'What is 1 + 1?', ['2', 'two'], undefined],
      ['9', 'Unlabeled one', null, undefined],
    ]);
    expect(bad.map((b) => `${b.line}: ${b.field}: ${b.problem}`)).toEqual([
      '4: qid: duplicate id "7" (first on line 1)',
      '5: prompt.text: missing (expected string)',
    ]);
    expect(t.isCorrect(t.extractAnswer('6 * 7 = 42. The answer is 42.0.'), questions[0].gold!)).toBe(true);
    expect(t.isCorrect(t.extractAnswer('I think 41.'), questions[0].gold!)).toBe(false);
  });

  it('custom with an answer pattern takes its first group from the last match; text answers compare loosely', () => {
    const t = getTask('custom', { questionField: 'q', answerPattern: '/final: (\\w+)/i' });
    expect(t.extractAnswer('Final: Paris ... final: Lyon.')).toBe('Lyon');
    expect(t.extractAnswer('no marker here')).toBeNull();
    expect(t.isCorrect('  LYON. ', ['lyon'])).toBe(true);
    expect(getTask('custom', { questionField: 'q' }).extractAnswer('So the answer is Rome.')).toBe('Rome');
  });
});
