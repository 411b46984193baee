import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import { readJsonl } from '../load/jsonl';
import { IdRegistry, type Rejection } from '../load/records';
import { deriveSeed, Rng } from '../../base/rng';
import type { LoadOptions, LoadResult, Question, Task } from '../types';
import { numericAnswers, paperPrompts } from './shared';

/**
 * arith: a synthetic multi-step arithmetic word-problem task, generated from a seed, that the
 * embedded model learns from scratch. Problems add and subtract amounts of one thing; rationales are
 * one equation per step and end "The answer is N.". A problem can be solved in several valid orders
 * (left to right, additions first, subtractions first), so correct reasoning paths differ in text and
 * agree in answer, which is what self-consistency relies on. The vocabulary is small on purpose
 * (lower-case words, digits, a few symbols) for a character-level tokenizer.
 */

export type ArithOp = { op: '+' | '-'; amount: number; verb: string };
export interface ArithProblem {
  name: string;
  item: string;
  start: number;
  steps: ArithOp[];
  question: string;
  answer: number;
  style: ArithStyle;
}
export type ArithStyle = 'story' | 'terse';
export type ArithOrder = 'left-to-right' | 'additions-first' | 'subtractions-first';
export const ARITH_ORDERS: readonly ArithOrder[] = ['left-to-right', 'additions-first', 'subtractions-first'];

export const ArithKnobs = z
  .object({
    /** Operations per problem (each one sentence and one rationale step). */
    minSteps: z.int().min(1).max(12).default(2),
    maxSteps: z.int().min(1).max(12).default(4),
    /** Digits of the starting amount and of each operand. */
    minDigits: z.int().min(1).max(6).default(1),
    maxDigits: z.int().min(1).max(6).default(2),
    /**
     * 'story': full sentences ("then ann buys 3 more apples."), a rationale of spaced equations after
     * "ann starts with 5 apples.". 'terse': one clause per step ("buys 3") and compact equations
     * ("5+3=8."), about half the characters, so a character-level model sees twice the problems per
     * training token (the demo's base model is trained within minutes on 2 CPU cores). Its steps
     * restate the clause they use ("buys 3: 5+3=8."): a small model then copies the operand from the
     * clause it just wrote instead of searching the question for it (without the clause a small
     * model picked wrong operands: docs/demo-history.md, what was tried for the base model).
     */
    style: z.enum(['story', 'terse']).default('story'),
  })
  .refine((k) => k.minSteps <= k.maxSteps, { message: 'minSteps > maxSteps', path: ['minSteps'] })
  .refine((k) => k.minDigits <= k.maxDigits, { message: 'minDigits > maxDigits', path: ['minDigits'] });
export type ArithKnobs = z.output<typeof ArithKnobs>;

export const ArithSplitSizes = z.object({
  train: z.int().min(0),
  unlabeled: z.int().min(0),
  eval: z.int().min(0),
});
export type ArithSplitSizes = z.infer<typeof ArithSplitSizes>;
export type ArithSplit = keyof ArithSplitSizes;

/** A line of an arith file. Unlabeled lines carry no answer and no rationale. */
export interface ArithRecord {
  id: string;
  question: string;
  answer?: string;
  rationale?: string;
}

const NAMES = [
  'ann',
  'ben',
  'cal',
  'dan',
  'eva',
  'fay',
  'gus',
  'ida',
  'jon',
  'kim',
  'lea',
  'max',
  'ned',
  'ola',
];
const ITEMS = ['apples', 'books', 'cards', 'coins', 'eggs', 'pens', 'shells', 'stamps'];
const GAINS = ['buys', 'finds', 'gets', 'wins'];
const LOSSES = ['gives away', 'loses', 'sells', 'uses'];

/** Every character an arith question or rationale can contain (the tokenizer's alphabet). */
export const ARITH_ALPHABET = ' +,-.0123456789:=?Tabcdefghijklmnopqrstuvwxyz';

function amount(rng: Rng, knobs: ArithKnobs): number {
  const digits = rng.int(knobs.minDigits, knobs.maxDigits);
  return rng.int(digits === 1 ? 1 : 10 ** (digits - 1), 10 ** digits - 1);
}

/** "1 apple", "2 apples": every item word is a plural in -s. */
function count(n: number, item: string): string {
  return `${n} ${n === 1 ? item.slice(0, -1) : item}`;
}

/** One problem; the running total never goes below zero when read left to right. */
export function generateArithProblem(rng: Rng, knobsInput: Partial<ArithKnobs> = {}): ArithProblem {
  const knobs = ArithKnobs.parse(knobsInput);
  const name = rng.pick(NAMES);
  const item = rng.pick(ITEMS);
  const start = amount(rng, knobs);
  const steps: ArithOp[] = [];
  let total = start;
  const n = rng.int(knobs.minSteps, knobs.maxSteps);
  for (let i = 0; i < n; i++) {
    let k = amount(rng, knobs);
    if (total > 0 && rng.next() < 0.5) {
      if (k > total) k = rng.int(1, total);
      steps.push({ op: '-', amount: k, verb: rng.pick(LOSSES) });
      total -= k;
    } else {
      steps.push({ op: '+', amount: k, verb: rng.pick(GAINS) });
      total += k;
    }
  }
  const question =
    knobs.style === 'terse'
      ? terseQuestion(name, item, start, steps)
      : storyQuestion(name, item, start, steps);
  return { name, item, start, steps, question, answer: total, style: knobs.style };
}

function terseQuestion(name: string, item: string, start: number, steps: ArithOp[]): string {
  return `${name} has ${count(start, item)}, ${steps.map((s) => `${s.verb} ${s.amount}`).join(', ')}. how many now?`;
}

function storyQuestion(name: string, item: string, start: number, steps: ArithOp[]): string {
  const sentences = [`${name} has ${count(start, item)}.`];
  steps.forEach((s, i) => {
    const what =
      s.op === '+' ? `${s.amount} more ${s.amount === 1 ? item.slice(0, -1) : item}` : count(s.amount, item);
    sentences.push(`${i === 0 ? '' : 'then '}${name} ${s.verb} ${what}.`);
  });
  sentences.push(`how many ${item} does ${name} have now?`);
  return sentences.join(' ');
}

/** An upper bound on the number of distinct questions the knobs allow. */
export function arithQuestionSpace(knobsInput: Partial<ArithKnobs> = {}): number {
  const knobs = ArithKnobs.parse(knobsInput);
  const amounts = 10 ** knobs.maxDigits - (knobs.minDigits === 1 ? 1 : 10 ** (knobs.minDigits - 1));
  const perStep = amounts * (GAINS.length + LOSSES.length);
  let sequences = 0;
  for (let k = knobs.minSteps; k <= knobs.maxSteps; k++) sequences += perStep ** k;
  return NAMES.length * ITEMS.length * amounts * sequences;
}

function orderedSteps(problem: ArithProblem, order: ArithOrder): ArithOp[] {
  if (order === 'left-to-right') return problem.steps;
  const first = order === 'additions-first' ? '+' : '-';
  return [...problem.steps.filter((s) => s.op === first), ...problem.steps.filter((s) => s.op !== first)];
}

/** The orders that give a distinct rationale with no negative running total. */
export function arithOrders(problem: ArithProblem): ArithOrder[] {
  const seen = new Set<string>();
  return ARITH_ORDERS.filter((order) => {
    let total = problem.start;
    for (const s of orderedSteps(problem, order)) {
      total += s.op === '+' ? s.amount : -s.amount;
      if (total < 0) return false;
    }
    const key = orderedSteps(problem, order)
      .map((s) => `${s.op}${s.amount}`)
      .join();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A step-by-step rationale in the given order, ending "The answer is N.". */
export function arithRationale(problem: ArithProblem, order: ArithOrder = 'left-to-right'): string {
  const terse = problem.style === 'terse';
  const parts = terse ? [] : [`${problem.name} starts with ${count(problem.start, problem.item)}.`];
  let total = problem.start;
  for (const s of orderedSteps(problem, order)) {
    const next = total + (s.op === '+' ? s.amount : -s.amount);
    parts.push(
      terse
        ? `${s.verb} ${s.amount}: ${total}${s.op}${s.amount}=${next}.`
        : `${total} ${s.op} ${s.amount} = ${next}.`,
    );
    total = next;
  }
  parts.push(`The answer is ${total}.`);
  return parts.join(' ');
}

/**
 * The three splits, disjoint by question text. Each split draws from its own seeded stream, eval
 * first, so the eval set stays the same when the train or unlabeled sizes change.
 */
export function generateArithSplits(
  seed: string | number,
  sizes: ArithSplitSizes,
  knobsInput: Partial<ArithKnobs> = {},
): Record<ArithSplit, ArithRecord[]> {
  const knobs = ArithKnobs.parse(knobsInput);
  const wanted = sizes.train + sizes.unlabeled + sizes.eval;
  const space = arithQuestionSpace(knobs);
  // Far below the space, fresh questions come quickly; near it, a search for the last ones would crawl.
  if (wanted > space / 4)
    throw new Error(
      `arith: ${wanted} distinct problems asked for, but steps ${knobs.minSteps}-${knobs.maxSteps} and digits ` +
        `${knobs.minDigits}-${knobs.maxDigits} allow at most ${space}; allow more steps or digits, or ask for fewer`,
    );
  const taken = new Set<string>();
  const make = (split: ArithSplit): ArithRecord[] => {
    const rng = new Rng(deriveSeed('arith', seed, split));
    const out: ArithRecord[] = [];
    for (let misses = 0; out.length < sizes[split];) {
      const p = generateArithProblem(rng, knobs);
      if (taken.has(p.question)) {
        if (++misses > 100_000)
          throw new Error(`arith: no new ${split} problem in 100000 tries; allow more steps or digits`);
        continue;
      }
      misses = 0;
      taken.add(p.question);
      const id = `arith-${split}-${out.length + 1}`;
      if (split === 'unlabeled') out.push({ id, question: p.question });
      else
        out.push({
          id,
          question: p.question,
          answer: String(p.answer),
          rationale: arithRationale(p, rng.pick(arithOrders(p))),
        });
    }
    return out;
  };
  const evalSplit = make('eval');
  const unlabeled = make('unlabeled');
  const train = make('train');
  return { train, unlabeled, eval: evalSplit };
}

/** Writes `train.jsonl`, `unlabeled.jsonl` and `eval.jsonl` into `dir`; returns their paths. */
export async function writeArithSplits(
  dir: string,
  seed: string | number,
  sizes: ArithSplitSizes,
  knobs: Partial<ArithKnobs> = {},
): Promise<Record<ArithSplit, string>> {
  const splits = generateArithSplits(seed, sizes, knobs);
  await mkdir(dir, { recursive: true });
  const files = {} as Record<ArithSplit, string>;
  for (const split of ['train', 'unlabeled', 'eval'] as const) {
    files[split] = path.join(dir, `${split}.jsonl`);
    await writeFile(files[split], splits[split].map((r) => JSON.stringify(r) + '\n').join(''));
  }
  return files;
}

const ArithLine = z.object({
  id: z.string().trim().min(1),
  question: z.string().trim().min(1),
  answer: z.union([z.string().trim().min(1), z.number()]).optional(),
  rationale: z.string().trim().min(1).optional(),
});

/** Question.rationale never states the answer (as for gsm8k): the prompt formats add "The answer is N.". */
function withoutAnswerSentence(rationale: string): string {
  return rationale.replace(/\s*The answer is [^\n]*$/, '').trim();
}

export const arith: Task = {
  name: 'arith',
  async loadQuestions(file: string, options: LoadOptions = {}): Promise<LoadResult> {
    const ids = new IdRegistry();
    const { records, bad } = await readJsonl(file, ArithLine, {
      ...options,
      accept: (row, line): Question | Rejection =>
        ids.claim(row.id, line) ?? {
          id: row.id,
          text: row.question,
          gold: row.answer === undefined ? null : [String(row.answer)],
          ...(row.rationale === undefined ? {} : { rationale: withoutAnswerSentence(row.rationale) }),
          source: { file, line },
        },
    });
    return { questions: records, bad };
  },
  ...numericAnswers,
  prompts: paperPrompts,
};
