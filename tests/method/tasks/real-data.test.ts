import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { normalizeNumber } from '../../../method/answers/number';
import { getTask } from '../../../method/tasks';
import type { Question, TaskName } from '../../../method/types';

/** ../shared/data beside the repository (see its README.md). */
const DATA = path.resolve(__dirname, '../../../../shared/data');
const data = (p: string) => path.join(DATA, p);

const FILES: [TaskName, string, number][] = [
  ['gsm8k', 'gsm8k/test.jsonl', 1319],
  ['gsm8k', 'gsm8k/train.jsonl', 7473],
  ['drop', 'drop/drop_v0_dev.jsonl.gz', 9536],
  ['openbookqa', 'openbookqa/test.jsonl', 500],
  ['openbookqa', 'openbookqa/train.jsonl', 4957],
  ['arc', 'arc_challenge/ARC-Challenge-Dev.jsonl', 299],
  ['arc', 'arc_challenge/ARC-Challenge-Train.jsonl', 1119],
  ['anli', 'anli/ANLI_analysis_r1_dev.csv', 1000],
  ['anli', 'anli/ANLI_analysis_r2_dev.csv', 1000],
  ['anli', 'anli/ANLI_analysis_r3_dev.csv', 1198],
];

const loaded = new Map<string, Question[]>();
beforeAll(async () => {
  for (const [task, file] of FILES) {
    const { questions, bad } = await getTask(task).loadQuestions(data(file), { policy: 'skip-and-report' });
    expect(bad).toEqual([]);
    loaded.set(file, questions);
  }
});
const questionsOf = (file: string) => loaded.get(file) as Question[];

describe('every file of ../shared/data loads through its task', () => {
  it.each(FILES)('%s %s: %i questions, zero bad lines, unique ids, labeled', (task, file, count) => {
    const questions = questionsOf(file);
    expect(questions).toHaveLength(count);
    expect(new Set(questions.map((q) => q.id)).size).toBe(count);
    const unlabeled = questions.filter((q) => q.text.length === 0 || !q.gold || q.gold.length === 0);
    expect(unlabeled).toEqual([]);
    expect(questions.every((q) => q.source.file === data(file))).toBe(true);
    // Lines are numbered from 1 in file order (records may span lines in the CSVs).
    const lines = questions.map((q) => q.source.line);
    expect(lines.every((l, i) => i === 0 || l > lines[i - 1])).toBe(true);
    if (task === 'gsm8k' || task === 'drop') expect(questions[4].id).toBe(`${path.basename(file)}:5`);
  });

  it('the fail-fast policy loads the same files without throwing', async () => {
    const { questions } = await getTask('arc').loadQuestions(data('arc_challenge/ARC-Challenge-Dev.jsonl'));
    expect(questions).toHaveLength(299);
  });
});

describe('gsm8k', () => {
  const gsm8k = getTask('gsm8k');
  const files = ['gsm8k/test.jsonl', 'gsm8k/train.jsonl'];

  it('every gold in test.jsonl and train.jsonl parses to a canonical number equal to the #### value', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const raw = readFileSync(data(file), 'utf8').trim().split('\n');
      questionsOf(file).forEach((q, i) => {
        const hashes = (JSON.parse(raw[i]) as { answer: string }).answer.split('####')[1].trim();
        const normalized = gsm8k.normalize(q.gold![0]);
        if (
          q.gold!.length !== 1 ||
          q.gold![0] !== hashes ||
          normalized !== hashes.replace(/,/g, '') ||
          !/^-?\d+$/.test(normalized)
        )
          wrong.push(`${q.id}: ${q.gold!.join('|')} → ${normalized}`);
      });
    }
    expect(wrong).toEqual([]);
    const finals = questionsOf('gsm8k/test.jsonl').map((q) => q.gold![0]);
    expect(finals.filter((g) => g.includes(','))).toHaveLength(14);
    expect(finals.filter((g) => g.startsWith('-'))).toHaveLength(2);
    expect(gsm8k.normalize('1,450,000')).toBe('1450000');
  });

  it('each gold rationale, written as a model would ("… The answer is N."), extracts to its gold', () => {
    const wrong: string[] = [];
    for (const file of files) {
      for (const q of questionsOf(file)) {
        if (!q.rationale || /<<|>>|####/.test(q.rationale)) wrong.push(`${q.id}: rationale ${q.rationale}`);
        const completion = `${q.rationale} ${gsm8k.prompts.formatAnswer(q.gold![0])}`;
        const extracted = gsm8k.extractAnswer(completion, q);
        const ok = extracted !== null && gsm8k.normalize(extracted) === normalizeNumber(q.gold![0]);
        if (!ok || !gsm8k.isCorrect(extracted, q.gold!, q))
          wrong.push(`${q.id}: ${extracted} ≠ ${q.gold![0]}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('strips calculator notes from the first test rationale', () => {
    expect(questionsOf('gsm8k/test.jsonl')[0].rationale).toBe(
      'Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18 every day at the farmer’s market.',
    );
  });
});

describe('drop', () => {
  const drop = getTask('drop');
  it('renders passage and question without the trailing "Answer:", gold = the | alternatives', () => {
    const q = questionsOf('drop/drop_v0_dev.jsonl.gz')[1];
    expect(q.text).toMatch(/^Passage: Non-nationals make up more than half/);
    expect(q.text).toMatch(
      /\nQuestion: What two nationalities had the same number of people living in Bahrain between 2005-2009\?$/,
    );
    expect(q.gold).toEqual(['Pakistanis and Filipinos', 'Pakistani and Filipino']);
  });

  it('every one-sentence gold alternative, stated as "The answer is X.", is extracted and exactly matches', () => {
    // A few golds are several sentences of the passage; a one-sentence answer rule cannot return those.
    const severalSentences = /^[.!?]|[\p{L}\d]{2}[.!?]\s+\S/u;
    let skipped = 0;
    let total = 0;
    const wrong: string[] = [];
    for (const q of questionsOf('drop/drop_v0_dev.jsonl.gz')) {
      for (const gold of q.gold!) {
        total++;
        if (severalSentences.test(gold)) {
          skipped++;
          continue;
        }
        const extracted = drop.extractAnswer(`The passage says so. The answer is ${gold}.`, q);
        if (!drop.isCorrect(extracted, [gold], q)) wrong.push(`${gold} → ${extracted}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(skipped / total).toBeLessThan(0.01);
  });
});

describe('multiple choice (openbookqa, arc)', () => {
  const mcFiles = FILES.filter(([t]) => t === 'openbookqa' || t === 'arc');

  it.each(mcFiles)(
    '%s %s: 3–5 choices, gold among the labels, rendered as "Answer Choices: (A) …"',
    (task, file) => {
      const t = getTask(task);
      const wrong: string[] = [];
      for (const q of questionsOf(file)) {
        const labels = q.choices!.map((c) => c.label);
        if (labels.length < 3 || labels.length > 5 || !labels.includes(q.gold![0]))
          wrong.push(`${q.id}: labels`);
        if (!q.text.endsWith(` Answer Choices: ${q.choices!.map((c) => `(${c.label}) ${c.text}`).join(' ')}`))
          wrong.push(`${q.id}: text`);
        // The letter, "(B)", or the text of an option (when no other option has the same text) reach its label.
        const gold = q.choices!.find((c) => c.label === q.gold![0])!;
        const answers = [`The answer is ${gold.label}.`, `The answer is (${gold.label}).`];
        if (q.choices!.filter((c) => c.text.toLowerCase() === gold.text.toLowerCase()).length === 1)
          answers.push(`So the answer is ${gold.text}.`, `The answer is (${gold.label}) ${gold.text}`);
        for (const a of answers)
          if (!t.isCorrect(t.extractAnswer(a, q), q.gold!, q)) wrong.push(`${q.id}: ${a}`);
      }
      expect(wrong).toEqual([]);
    },
  );

  it('ARC keeps numeric labels and the 3- and 5-choice questions', () => {
    const arc = [
      ...questionsOf('arc_challenge/ARC-Challenge-Dev.jsonl'),
      ...questionsOf('arc_challenge/ARC-Challenge-Train.jsonl'),
    ];
    expect(arc.filter((q) => q.choices![0].label === '1')).toHaveLength(27);
    expect(arc.filter((q) => q.choices!.length === 3)).toHaveLength(4);
    expect(arc.filter((q) => q.choices!.length === 5)).toHaveLength(2);
  });
});

describe('anli', () => {
  it('renders the paper prompt, gold in the paper wording, and each uid from its CSV record', () => {
    const anli = getTask('anli');
    const all = FILES.filter(([t]) => t === 'anli').flatMap(([, f]) => questionsOf(f));
    const byGold = new Map<string, number>();
    for (const q of all) byGold.set(q.gold![0], (byGold.get(q.gold![0]) ?? 0) + 1);
    expect(Object.fromEntries(byGold)).toEqual({ yes: 1070, no: 1062, 'it is not possible to tell': 1066 });
    const q = all[0];
    expect(q.id).toBe('bf628cf5-6948-4595-a6d0-daf99beb47b9');
    expect(q.text).toMatch(/^Premise:\n"Linguistics is the scientific study of language/);
    expect(q.text).toMatch(
      /\nBased on this premise, can we conclude the hypothesis "Form and meaning are the only aspects of language linguistics is concerned with\." is true\?\nOPTIONS:\n- yes\n- no\n- it is not possible to tell$/,
    );
    expect(
      anli.isCorrect(anli.extractAnswer('The premise says context matters. The answer is no.'), q.gold!),
    ).toBe(true);
    // A record that spans lines is numbered by the line it starts on.
    for (const [, file] of FILES.filter(([t]) => t === 'anli')) {
      const lines = readFileSync(data(file), 'utf8').split('\n');
      for (const x of questionsOf(file)) {
        const premise = x.text.split('\n')[1].slice(1, 20).replace(/"/g, '""');
        expect(lines[x.source.line - 1].replace(/^"/, '').startsWith(premise)).toBe(true);
      }
    }
  });
});
