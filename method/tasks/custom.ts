import { z } from 'zod';
import { extractChoiceAnswer, normalizeChoice } from '../answers/choice';
import { cleanAnswerSpan, extractFinalAnswer } from '../answers/extract';
import { extractNumber, normalizeNumber } from '../answers/number';
import { normalizeText } from '../answers/text';
import { BadInputError } from '../../base/errors';
import { readJsonl } from '../load/jsonl';
import { IdRegistry, Rejection } from '../load/records';
import type { Choice, LoadOptions, LoadResult, Question, Task } from '../types';
import { Choices, GOLD_TYPES, goldChoice, toChoices } from './custom-choices';
import { renderMultipleChoice } from './multiple-choice';
import { lineId, matchesAnyGold, paperPrompts } from './shared';

/**
 * custom: the user's own JSONL. Field names are configurable (dotted paths reach nested fields), the
 * answer is read with the paper's rule or with the user's regex (its first group, last match), and
 * answers compare as numbers or as text. With a choices field the task is multiple choice: the
 * options are rendered into the question as the built-in multiple-choice tasks render them, the gold
 * (a letter, a label, an option's text or an index, see goldType) is stored as the option's label,
 * and answers are extracted and normalised to labels as for ARC and OpenBookQA.
 */

export const CustomTaskOptions = z.object({
  questionField: z.string().min(1).optional(),
  answerField: z.string().min(1).optional(),
  idField: z.string().min(1).optional(),
  rationaleField: z.string().min(1).optional(),
  /** A regular expression, as a source or as `/source/flags`; group 1 (else the whole match) is the answer. */
  answerPattern: z.string().min(1).optional(),
  answerType: z.enum(['number', 'text']).optional(),
  /**
   * The field holding a multiple-choice question's options: a list of strings (labelled A, B, C, ...
   * in order) or of `{label, text}` objects. Set, the answers are options (answerType must be unset).
   */
  choicesField: z.string().min(1).optional(),
  /**
   * How the answer field names the correct option (choicesField only): `letter` A, B, ... by position;
   * `label` an option's label; `text` an option's text; `index0` / `index1` a position counted from 0
   * or from 1; `auto` (default) a label, else an option's text (a number is refused as ambiguous).
   */
  goldType: z.enum(GOLD_TYPES).optional(),
});
export type CustomTaskOptions = z.infer<typeof CustomTaskOptions>;

const WHERE = 'task custom';

function compilePattern(pattern: string): RegExp {
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  const [source, flags] = literal ? [literal[1], literal[2]] : [pattern, ''];
  try {
    return new RegExp(source, flags.includes('g') ? flags : flags + 'g');
  } catch (e) {
    throw new BadInputError(
      WHERE,
      null,
      'answerPattern',
      `not a valid regular expression: ${(e as Error).message}`,
    );
  }
}

/** A zod object that reaches each dotted field path, so issues name the path the user wrote. */
function schemaForPaths(fields: Record<string, z.ZodType>): z.ZodType {
  type Tree = { [key: string]: Tree | z.ZodType };
  const root: Tree = {};
  for (const [field, schema] of Object.entries(fields)) {
    const keys = field.split('.');
    let node = root;
    keys.forEach((key, i) => {
      const existing = node[key];
      if (i === keys.length - 1) {
        if (existing !== undefined)
          throw new BadInputError(WHERE, null, field, 'field used twice or inside another');
        node[key] = schema;
      } else {
        if (existing instanceof z.ZodType)
          throw new BadInputError(WHERE, null, field, 'field inside another field');
        node = (node[key] ??= {}) as Tree;
      }
    });
  }
  const build = (tree: Tree): z.ZodType =>
    z.object(
      Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, v instanceof z.ZodType ? v : build(v)])),
    );
  return build(root);
}

function valueAt(record: unknown, field: string): unknown {
  return field
    .split('.')
    .reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], record);
}

const Scalar = z.union([z.string().trim().min(1), z.number()]);

export function customTask(optionsInput: CustomTaskOptions | undefined): Task {
  const parsed = CustomTaskOptions.safeParse(optionsInput ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadInputError(WHERE, null, issue.path.join('.') || '(options)', issue.message);
  }
  const options = parsed.data;
  if (!options.questionField)
    throw new BadInputError(
      WHERE,
      null,
      'questionField',
      'required: the JSONL field that holds the question',
    );
  const { questionField, answerField, idField, rationaleField, choicesField } = options;
  if (choicesField && options.answerType !== undefined)
    throw new BadInputError(
      WHERE,
      null,
      'answerType',
      'not used with choicesField: the answers are options (leave answerType out)',
    );
  if (!choicesField && options.goldType !== undefined)
    throw new BadInputError(WHERE, null, 'goldType', 'only used with choicesField (multiple-choice data)');
  const goldType = options.goldType ?? 'auto';
  const pattern = options.answerPattern === undefined ? null : compilePattern(options.answerPattern);
  const numeric = options.answerType === 'number';
  const normalize = (answer: string, question?: Question) =>
    choicesField
      ? normalizeChoice(answer, question?.choices)
      : numeric
        ? normalizeNumber(answer)
        : normalizeText(answer);

  const fields: Record<string, z.ZodType> = { [questionField]: z.string().trim().min(1) };
  if (answerField) fields[answerField] = z.union([Scalar, z.array(Scalar).min(1)]).optional();
  if (idField) fields[idField] = Scalar;
  if (rationaleField) fields[rationaleField] = z.string().optional();
  if (choicesField) fields[choicesField] = Choices;
  const schema = schemaForPaths(fields);

  const extractSpan = (text: string): string | null => {
    if (!pattern) return extractFinalAnswer(text);
    let found: string | null = null;
    for (const m of text.matchAll(pattern)) found = m[1] ?? m[0];
    return found === null ? null : cleanAnswerSpan(found);
  };

  return {
    name: 'custom',
    async loadQuestions(file: string, loadOptions: LoadOptions = {}): Promise<LoadResult> {
      const ids = new IdRegistry(idField ?? 'id');
      const { records, bad } = await readJsonl(file, schema, {
        ...loadOptions,
        accept: (row, line): Question | Rejection => {
          const id = idField ? String(valueAt(row, idField)).trim() : lineId(file, line);
          const duplicate = idField ? ids.claim(id, line) : null;
          if (duplicate) return duplicate;
          const answer = answerField
            ? (valueAt(row, answerField) as string | number | (string | number)[])
            : undefined;
          const rationale = rationaleField ? (valueAt(row, rationaleField) as string | undefined) : undefined;
          const golds = answer === undefined ? null : Array.isArray(answer) ? answer : [answer];
          const stem = valueAt(row, questionField) as string;
          let choices: Choice[] | undefined;
          let gold = golds?.map(String) ?? null;
          if (choicesField) {
            const parsedChoices = toChoices(valueAt(row, choicesField) as z.output<typeof Choices>);
            if (typeof parsedChoices === 'string') return new Rejection(choicesField, parsedChoices);
            choices = parsedChoices;
            const labels: string[] = [];
            for (const g of golds ?? []) {
              const named = goldChoice(g, goldType, parsedChoices);
              if (typeof named === 'string') return new Rejection(answerField!, named);
              labels.push(named.label);
            }
            gold = golds === null ? null : labels;
          }
          return {
            id,
            text: choices ? renderMultipleChoice(stem, choices) : stem,
            gold,
            ...(choices ? { choices } : {}),
            ...(rationale ? { rationale: rationale.trim() } : {}),
            source: { file, line },
          };
        },
      });
      return { questions: records, bad };
    },
    extractAnswer: (text, question) => {
      if (choicesField && !pattern) return extractChoiceAnswer(text, question?.choices);
      const span = extractSpan(text);
      return numeric ? extractNumber(span) : span;
    },
    normalize,
    isCorrect: matchesAnyGold(normalize),
    prompts: paperPrompts,
  };
}
