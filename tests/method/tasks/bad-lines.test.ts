import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { BadInputError } from '../../../base/errors';
import { getTask } from '../../../method/tasks';
import type { BadLine } from '../../../method/types';

const FIXTURES = path.resolve(__dirname, '../../fixtures/method');
const fixture = (name: string) => path.join(FIXTURES, name);
const messages = (bad: BadLine[]) => bad.map((b) => `${b.file}:${b.line}: ${b.field}: ${b.problem}`);

/** The runtime's own JSON.parse message for a fixture line, so the exact text is asserted on any Node. */
function jsonError(file: string, line: number): string {
  const text = readFileSync(file, 'utf8').split('\n')[line - 1];
  try {
    JSON.parse(text);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`fixture line ${line} parses`);
}

async function thrown(p: Promise<unknown>): Promise<BadInputError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BadInputError);
    return e as BadInputError;
  }
  throw new Error('expected a BadInputError');
}

describe('loaders: bad lines', () => {
  const gsm8k = getTask('gsm8k');
  const file = fixture('gsm8k-bad-lines.jsonl');
  const expected = [
    `${file}:2: (json): not valid JSON: ${jsonError(file, 2)}`,
    `${file}:3: answer: missing (expected string)`,
    `${file}:6: answer: no final "#### N" line`,
    `${file}:7: question: Too small: expected string to have >=1 characters`,
  ];

  it('fail-fast stops at the first bad line with file:line: field: problem', async () => {
    const e = await thrown(gsm8k.loadQuestions(file, { policy: 'fail-fast' }));
    expect(e.message).toBe(expected[0]);
    expect([e.file, e.line, e.field]).toEqual([file, 2, '(json)']);
    // fail-fast is the default policy
    expect((await thrown(gsm8k.loadQuestions(file))).message).toBe(expected[0]);
  });

  it('skip-and-report keeps the good lines and reports every bad one, blank lines skipped silently', async () => {
    const { questions, bad } = await gsm8k.loadQuestions(file, { policy: 'skip-and-report' });
    expect(messages(bad)).toEqual(expected);
    expect(questions.map((q) => [q.id, q.source.line, q.gold, q.rationale])).toEqual([
      ['gsm8k-bad-lines.jsonl:1', 1, ['5'], '3 + 2 = 5'],
      ['gsm8k-bad-lines.jsonl:5', 5, ['9'], '10 - 1 = 9'],
    ]);
  });

  it('reports a duplicate id (naming the first line), a gold outside the choices, and too few choices', async () => {
    const mc = fixture('mc-duplicate-id.jsonl');
    const obqa = getTask('openbookqa');
    expect((await thrown(obqa.loadQuestions(mc))).message).toBe(
      `${mc}:3: id: duplicate id "q1" (first on line 1)`,
    );
    const { questions, bad } = await obqa.loadQuestions(mc, { policy: 'skip-and-report' });
    expect(questions.map((q) => q.id)).toEqual(['q1', 'q2']);
    expect(messages(bad)).toEqual([
      `${mc}:3: id: duplicate id "q1" (first on line 1)`,
      `${mc}:4: answerKey: "E" is not one of the labels A, B, C`,
      `${mc}:5: question.choices: Too small: expected array to have >=3 items`,
    ]);
  });

  it('CSV: numbers a record by the line it starts on, and reports bad labels, wrong field counts, duplicate uids', async () => {
    const csv = fixture('anli-bad.csv');
    const anli = getTask('anli');
    const first = `${csv}:4: gold_label: Invalid option: expected one of "e"|"n"|"c"`;
    expect((await thrown(anli.loadQuestions(csv))).message).toBe(first);
    const { questions, bad } = await anli.loadQuestions(csv, { policy: 'skip-and-report' });
    expect(messages(bad)).toEqual([
      first,
      `${csv}:5: (csv): Invalid Record Length: columns length is 5, got 4`,
      `${csv}:6: uid: duplicate id "u1" (first on line 2)`,
    ]);
    expect(questions.map((q) => [q.id, q.source.line, q.gold])).toEqual([
      ['u1', 2, ['yes']],
      ['u4', 7, ['it is not possible to tell']],
    ]);
    expect(questions[0].text).toContain('"A man walks\nhis dog in the park."');
  });

  it('gzip JSONL is streamed with the same line numbers', async () => {
    const gz = fixture('gsm8k-bad.jsonl.gz');
    const { questions, bad } = await gsm8k.loadQuestions(gz, { policy: 'skip-and-report' });
    expect(questions.map((q) => q.id)).toEqual(['gsm8k-bad.jsonl.gz:1', 'gsm8k-bad.jsonl.gz:3']);
    expect(bad.map((b) => [b.line, b.field])).toEqual([[2, '(json)']]);
    expect(bad[0].problem).toMatch(/^not valid JSON: /);
  });

  it('an empty file (or one of blank lines, or a CSV header alone) is an error naming the file, under both policies', async () => {
    for (const [task, name] of [
      ['gsm8k', 'empty.jsonl'],
      ['gsm8k', 'blank-lines.jsonl'],
      ['anli', 'anli-header-only.csv'],
    ] as const) {
      for (const policy of ['fail-fast', 'skip-and-report'] as const) {
        const e = await thrown(getTask(task).loadQuestions(fixture(name), { policy }));
        expect(e.message).toBe(`${fixture(name)}: (file): empty file: no records to read`);
        expect(e.line).toBeNull();
      }
    }
  });

  it('a missing file, a directory and a corrupt .gz are bad input naming the file', async () => {
    const missing = fixture('no-such-file.jsonl');
    expect((await thrown(gsm8k.loadQuestions(missing))).message).toBe(`${missing}: (file): no such file`);
    expect((await thrown(gsm8k.loadQuestions(FIXTURES))).message).toBe(
      `${FIXTURES}: (file): not a regular file`,
    );
    const notGzip = fixture('not-gzip.jsonl.gz');
    expect((await thrown(gsm8k.loadQuestions(notGzip))).message).toBe(
      `${notGzip}: (file): not valid gzip: incorrect header check`,
    );
  });

  it('limit reads only the first N good questions', async () => {
    const { questions, bad } = await gsm8k.loadQuestions(file, { policy: 'skip-and-report', limit: 1 });
    expect(questions.map((q) => q.source.line)).toEqual([1]);
    expect(bad).toEqual([]);
  });
});
