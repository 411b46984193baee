import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Rng } from '../../../base/rng';
import {
  ARITH_ALPHABET,
  arithOrders,
  arithRationale,
  generateArithProblem,
  generateArithSplits,
  writeArithSplits,
} from '../../../method/tasks/arith';
import { getTask } from '../../../method/tasks';

/** Evaluates a rationale's equations: each "a op b = c" must hold and chain into the next. */
function checkRationale(rationale: string, start: number): number {
  let total = start;
  for (const m of rationale.matchAll(/(\d+) ([+-]) (\d+) = (\d+)\./g)) {
    const [a, op, b, c] = [Number(m[1]), m[2], Number(m[3]), Number(m[4])];
    expect(a).toBe(total);
    expect(op === '+' ? a + b : a - b).toBe(c);
    expect(c).toBeGreaterThanOrEqual(0);
    total = c;
  }
  return total;
}

describe('arith generator', () => {
  const sizes = { train: 300, unlabeled: 300, eval: 100 };

  it('is seeded: the same seed gives the same splits, another seed others', () => {
    expect(generateArithSplits('s1', sizes)).toEqual(generateArithSplits('s1', sizes));
    expect(generateArithSplits('s2', sizes).eval).not.toEqual(generateArithSplits('s1', sizes).eval);
  });

  it('splits are disjoint by question text, unlabeled has no answers, eval does not move with train size', () => {
    const { train, unlabeled, eval: evalSet } = generateArithSplits('s1', sizes);
    expect([train.length, unlabeled.length, evalSet.length]).toEqual([300, 300, 100]);
    const texts = [...train, ...unlabeled, ...evalSet].map((r) => r.question);
    expect(new Set(texts).size).toBe(texts.length);
    expect(unlabeled.every((r) => r.answer === undefined && r.rationale === undefined)).toBe(true);
    expect(generateArithSplits('s1', { ...sizes, train: 10 }).eval).toEqual(evalSet);
  });

  it('rationales are correct step by step and end "The answer is N."', () => {
    for (const r of generateArithSplits('s1', sizes).train) {
      const start = Number(/has (\d+) /.exec(r.question)![1]);
      expect(String(checkRationale(r.rationale!, start))).toBe(r.answer);
      expect(r.rationale!.endsWith(`The answer is ${r.answer}.`)).toBe(true);
    }
  });

  it('knobs bound the number of steps and digits', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 200; i++) {
      const p = generateArithProblem(rng, { minSteps: 3, maxSteps: 5, minDigits: 2, maxDigits: 3 });
      expect(p.steps.length).toBeGreaterThanOrEqual(3);
      expect(p.steps.length).toBeLessThanOrEqual(5);
      expect(p.start).toBeGreaterThanOrEqual(10);
      expect(p.start).toBeLessThan(1000);
      for (const s of p.steps) expect(s.amount).toBeLessThan(1000);
      expect(p.question.match(/\./g)).toHaveLength(p.steps.length + 1);
    }
    expect(() => generateArithProblem(rng, { minSteps: 4, maxSteps: 2 })).toThrow(/minSteps/);
  });

  it('offers several valid solution orders, all reaching the same answer', () => {
    const rng = new Rng(11);
    let multi = 0;
    for (let i = 0; i < 200; i++) {
      const p = generateArithProblem(rng, { minSteps: 3, maxSteps: 4 });
      const orders = arithOrders(p);
      expect(orders).toContain('left-to-right');
      if (orders.length > 1) multi++;
      const rationales = orders.map((o) => arithRationale(p, o));
      expect(new Set(rationales).size).toBe(orders.length);
      for (const r of rationales) expect(checkRationale(r, p.start)).toBe(p.answer);
    }
    expect(multi).toBeGreaterThan(100);
  });

  it('uses a small alphabet: lower-case words, digits, basic punctuation, and "The answer is"', () => {
    const { train, unlabeled } = generateArithSplits('s1', sizes);
    const used = new Set([...train, ...unlabeled].flatMap((r) => [...r.question, ...(r.rationale ?? '')]));
    for (const ch of used) expect(ARITH_ALPHABET).toContain(ch);
  });

  it('terse style: one clause per step, each rationale step restates its clause, same draws as story', () => {
    const terse = generateArithSplits('s1', sizes, { style: 'terse' });
    const story = generateArithSplits('s1', sizes);
    // Same seed, same problems: only the wording differs (answers match line by line).
    expect(terse.eval.map((r) => r.answer)).toEqual(story.eval.map((r) => r.answer));
    for (const r of terse.train) {
      const m = /^[a-z]+ has (\d+) [a-z]+, (.+)\. how many now\?$/.exec(r.question)!;
      expect(m).not.toBeNull();
      const clauses = m[2].split(', ');
      let total = Number(m[1]);
      const steps = [...r.rationale!.matchAll(/([a-z ]+) (\d+): (\d+)([+-])(\d+)=(\d+)\./g)];
      expect(steps).toHaveLength(clauses.length);
      for (const [, verb, amount, a, op, b, c] of steps) {
        expect(clauses).toContain(`${verb.trim()} ${amount}`);
        expect([Number(a), b]).toEqual([total, amount]);
        total = op === '+' ? total + Number(b) : total - Number(b);
        expect(Number(c)).toBe(total);
        expect(total).toBeGreaterThanOrEqual(0);
      }
      expect(String(total)).toBe(r.answer);
      expect(r.rationale!.endsWith(`The answer is ${r.answer}.`)).toBe(true);
      for (const ch of r.question + r.rationale!) expect(ARITH_ALPHABET).toContain(ch);
    }
    // Terse problems are about half as long: the demo's training budget buys twice the problems.
    const chars = (rs: { question: string }[]) => rs.reduce((n, r) => n + r.question.length, 0);
    expect(chars(terse.train)).toBeLessThan(0.6 * chars(story.train));
  });

  it('refuses more distinct problems than the knobs allow', () => {
    expect(() =>
      generateArithSplits(
        's',
        { train: 50_000, unlabeled: 0, eval: 0 },
        { minSteps: 1, maxSteps: 1, maxDigits: 1 },
      ),
    ).toThrow(/allow at most 72576/);
  });

  it('writes JSONL splits that load through the arith task with their gold and rationale', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'arith-'));
    try {
      const files = await writeArithSplits(dir, 'w', { train: 20, unlabeled: 15, eval: 10 });
      const arith = getTask('arith');
      const train = await arith.loadQuestions(files.train);
      const unlabeled = await arith.loadQuestions(files.unlabeled);
      const evalSet = await arith.loadQuestions(files.eval);
      expect([train.questions.length, unlabeled.questions.length, evalSet.questions.length]).toEqual([
        20, 15, 10,
      ]);
      expect(unlabeled.questions.every((q) => q.gold === null)).toBe(true);
      const first = JSON.parse(readFileSync(files.train, 'utf8').split('\n')[0]);
      const q = train.questions[0];
      expect(q).toEqual({
        id: 'arith-train-1',
        text: first.question,
        gold: [first.answer],
        rationale: first.rationale.replace(/ The answer is \d+\.$/, ''),
        source: { file: files.train, line: 1 },
      });
      // The file's rationale, as a completion, is correct.
      expect(arith.isCorrect(arith.extractAnswer(first.rationale), q.gold!)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
