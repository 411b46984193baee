import { readFileSync } from 'node:fs';
import * as jsonc from 'jsonc-parser';
import { z } from 'zod';
import { BadInputError } from '../base/errors';
import { CampaignConfig, TaskConfig, TrainingConfig } from './campaign';

/** One problem in a config file: where (key path and line), what was expected, what was given. */
export interface ConfigProblem {
  path: string; // e.g. "sampling.temperature"
  line: number | null;
  expected: string;
  received: string;
}

export class ConfigError extends BadInputError {
  constructor(
    file: string,
    readonly problems: ConfigProblem[],
  ) {
    const first = problems[0];
    super(file, first.line, first.path, `expected ${first.expected}, got ${first.received}`);
    if (problems.length > 1) {
      this.message = problems
        .map(
          (p) =>
            `${file}${p.line === null ? '' : `:${p.line}`}: ${p.path}: expected ${p.expected}, got ${p.received}`,
        )
        .join('\n');
    }
  }
}

/** Reads, parses (JSON with comments) and validates a campaign config file. */
export function loadCampaignConfig(file: string): CampaignConfig {
  return parseCampaignConfig(readFileSync(file, 'utf8'), file);
}

export function parseCampaignConfig(text: string, file = '<config>'): CampaignConfig {
  return parseWith(CampaignConfig, text, file);
}

/** JSON with comments, validated with `schema`; every problem names the key path and its line. */
function parseWith<S extends z.ZodType>(schema: S, text: string, file: string): z.output<S> {
  const errors: jsonc.ParseError[] = [];
  const value: unknown = jsonc.parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    throw new ConfigError(
      file,
      errors.map((e) => ({
        path: '(syntax)',
        line: lineOf(text, e.offset),
        expected: 'valid JSON',
        received: jsonc.printParseErrorCode(e.error),
      })),
    );
  }
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const tree = jsonc.parseTree(text);
  throw new ConfigError(
    file,
    result.error.issues.flatMap((issue) => describeIssue(issue, text, tree)),
  );
}

/**
 * The task section of a config file (a campaign config, or a file holding only `{"task": {...}}`):
 * what `lmsi eval --config` reads. Only the task section is validated (the other sections are not
 * used), and its problems are reported as `lmsi config check` reports them: file:line: key path.
 */
export function loadTaskSection(file: string): z.output<typeof TaskConfig> {
  return parseWith(z.object({ task: TaskConfig }), readFileSync(file, 'utf8'), file).task;
}

/**
 * The training section of a config file (a campaign config, or a file holding only
 * `{"training": {...}}`): what `lmsi finetune --config` reads, validated as the campaign validates it.
 */
export function loadTrainingSection(file: string): z.output<typeof TrainingConfig> {
  return parseWith(z.object({ training: TrainingConfig }), readFileSync(file, 'utf8'), file).training;
}

function describeIssue(issue: z.core.$ZodIssue, text: string, tree: jsonc.Node | undefined): ConfigProblem[] {
  const at = (segments: PropertyKey[]): { path: string; line: number | null } => {
    const node = tree ? jsonc.findNodeAtLocation(tree, segments as (string | number)[]) : undefined;
    const keyNode = node?.parent?.type === 'property' ? node.parent : node;
    return {
      path: segments.length ? segments.map(String).join('.') : '(root)',
      line: keyNode ? lineOf(text, keyNode.offset) : null,
    };
  };
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        ...at([...issue.path, key]),
        expected: 'a known key (unknown keys are rejected)',
        received: `unknown key "${key}"`,
      }));
    case 'invalid_type':
      return [{ ...at(issue.path), expected: issue.expected, received: describeValue(issue.input, true) }];
    case 'invalid_value':
      return [
        {
          ...at(issue.path),
          expected: `one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}`,
          received: describeValue(issue.input),
        },
      ];
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const op = issue.code === 'too_small' ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      const what =
        issue.origin === 'array'
          ? 'an array with length'
          : issue.origin === 'string'
            ? 'a string of length'
            : issue.origin;
      return [
        {
          ...at(issue.path),
          expected: `${what} ${op} ${String(bound)}`,
          received: describeValue(issue.input),
        },
      ];
    }
    case 'invalid_key':
      // A record's key failed its own schema (e.g. training.fromRound's round numbers): say what the
      // key should be, not zod's generic "Invalid key in record".
      return [
        {
          ...at(issue.path),
          expected: `a key that is ${issue.issues.map((i) => i.message).join(', ')}`,
          received: describeValue(issue.input),
        },
      ];
    default:
      return [{ ...at(issue.path), expected: issue.message, received: describeValue(issue.input) }];
  }
}

function describeValue(value: unknown, withType = false): string {
  if (value === undefined) return 'nothing (the key is missing)';
  const shown = JSON.stringify(value);
  const clipped = shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
  if (!withType) return clipped;
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `${type} ${clipped}`;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The JSON Schema of the config file (input side: defaults are optional), for editors. */
export function campaignConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(CampaignConfig, { io: 'input', unrepresentable: 'any' });
}
