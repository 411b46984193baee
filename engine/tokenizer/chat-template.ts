import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { BadInputError } from '../../base/errors';
import type { LoadedTokenizer } from './load';

/**
 * A model folder's chat template (Jinja), rendered as transformers' `apply_chat_template` renders
 * it, with @huggingface/jinja. Where transformers finds it, in its order: `chat_template.jinja`
 * beside the tokenizer (newer transformers saves it there), `chat_template.json` ({"chat_template"}),
 * then tokenizer_config.json's `chat_template` (a string, or a list of named templates of which
 * "default" is used).
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface RenderOptions {
  /** End with the text that opens the assistant's turn (transformers' add_generation_prompt). */
  addGenerationPrompt: boolean;
  /**
   * The date templates print with strftime_now (Llama 3.1's "Today Date"). Fixed by default, so
   * that a prompt rendered on a retry days later is the prompt the first attempt sampled from.
   */
  now?: Date;
}

/** Llama 3.1's own fallback date for templates rendered without strftime_now. */
export const FIXED_TEMPLATE_DATE = new Date(Date.UTC(2024, 6, 26));

/** One assistant turn as training sees it: what the model is given, and what it must write. */
export interface ChatTurn {
  /** The conversation up to and including the generation prompt (the opening of the assistant turn). */
  prompt: string;
  /**
   * The assistant turn after the generation prompt: the content and the template's end-of-turn
   * token (e.g. `<|im_end|>`, `<|eot_id|>`), which the model must learn to write; text the template
   * puts after that token (a newline before the next turn) is not part of it.
   */
  completion: string;
}

export class ChatTemplate {
  private readonly compiled: Template;
  private endOfTurnCache: string | null | undefined;

  constructor(
    /** Where the template was read from (errors name it). */
    readonly file: string,
    readonly source: string,
    private readonly tokenizer: LoadedTokenizer,
  ) {
    try {
      this.compiled = new Template(source);
    } catch (e) {
      throw new BadInputError(file, null, 'chat_template', `not a valid template: ${(e as Error).message}`);
    }
  }

  /** The conversation as text, as transformers' apply_chat_template(tokenize=False) renders it. */
  render(messages: readonly ChatMessage[], options: RenderOptions): string {
    const now = options.now ?? FIXED_TEMPLATE_DATE;
    const special = this.tokenizer.specialTokens;
    const additional = this.tokenizer.config.additional_special_tokens;
    const additionalText = Array.isArray(additional)
      ? additional.map((t) => (typeof t === 'string' ? t : (t as { content: string }).content))
      : null;
    try {
      // Template.render's own globals, but strftime_now cannot be replaced there (a variable is
      // declared once), so the environment is built here.
      const env = new Environment();
      for (const [name, value] of Object.entries({
        false: false,
        true: true,
        none: null,
        False: false,
        True: true,
        None: null,
        raise_exception: (message: string) => {
          throw new Error(message);
        },
        range,
        strftime_now: (format: string) => strftime(now, format),
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: options.addGenerationPrompt,
        tools: null,
        documents: null,
        ...special,
        ...(additionalText ? { additional_special_tokens: additionalText } : {}),
      }))
        env.set(name, value);
      const result = new Interpreter(env).run(this.compiled.parsed) as { value: string };
      return result.value;
    } catch (e) {
      throw new BadInputError(this.file, null, 'chat_template', `rendering failed: ${(e as Error).message}`);
    }
  }

  /** A user turn as the model is asked it: rendered with the generation prompt. */
  generationPrompt(user: string): string {
    return this.render([{ role: 'user', content: user }], { addGenerationPrompt: true });
  }

  /**
   * A user turn and the assistant's answer, split where the generation prompt ends: the prompt is
   * exactly what sampling gives the model, the completion what it should write from there.
   */
  turn(user: string, assistant: string): ChatTurn {
    const prompt = this.generationPrompt(user);
    const full = this.render(
      [
        { role: 'user', content: user },
        { role: 'assistant', content: assistant },
      ],
      { addGenerationPrompt: false },
    );
    if (!full.startsWith(prompt))
      throw new BadInputError(
        this.file,
        null,
        'chat_template',
        'a conversation that ends with an assistant turn does not begin with the generation prompt, ' +
          'so the assistant turn cannot be told apart from the prompt',
      );
    let completion = full.slice(prompt.length);
    const end = this.endOfTurn();
    if (end !== null) {
      const contentAt = completion.indexOf(assistant.trim());
      const endAt = completion.indexOf(end, contentAt < 0 ? 0 : contentAt + assistant.trim().length);
      if (endAt >= 0) completion = completion.slice(0, endAt + end.length);
    }
    return { prompt, completion };
  }

  /**
   * The special token that closes an assistant turn: the first special token the template writes
   * after the assistant's content. Null when it writes none (the tokenizer's EOS ends the turn then).
   */
  endOfTurn(): string | null {
    if (this.endOfTurnCache !== undefined) return this.endOfTurnCache;
    const probe = 'lmsi end-of-turn probe';
    const full = this.render(
      [
        { role: 'user', content: 'lmsi question' },
        { role: 'assistant', content: probe },
      ],
      { addGenerationPrompt: false },
    );
    const at = full.lastIndexOf(probe);
    let found: string | null = null;
    if (at >= 0) {
      const after = full.slice(at + probe.length);
      for (const id of this.tokenizer.encode(after)) {
        if (this.tokenizer.specialIds.has(id)) {
          found = this.tokenizer.tokenizer.id_to_token(id) ?? null;
          break;
        }
      }
    }
    this.endOfTurnCache = found;
    return found;
  }
}

/** The folder's chat template, or null when it has none. */
export function loadChatTemplate(dir: string, tokenizer: LoadedTokenizer): ChatTemplate | null {
  const jinjaFile = path.join(dir, 'chat_template.jinja');
  if (existsSync(jinjaFile)) return new ChatTemplate(jinjaFile, readText(jinjaFile), tokenizer);
  const jsonFile = path.join(dir, 'chat_template.json');
  if (existsSync(jsonFile)) {
    let value: unknown;
    try {
      value = JSON.parse(readText(jsonFile));
    } catch (e) {
      throw new BadInputError(jsonFile, null, '(json)', (e as Error).message);
    }
    const source = (value as { chat_template?: unknown } | null)?.chat_template;
    if (typeof source !== 'string')
      throw new BadInputError(jsonFile, null, 'chat_template', 'expected a string');
    return new ChatTemplate(jsonFile, source, tokenizer);
  }
  const configFile = path.join(dir, 'tokenizer_config.json');
  const source = templateSource(configFile, tokenizer.config.chat_template);
  return source === null ? null : new ChatTemplate(configFile, source, tokenizer);
}

function templateSource(file: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    // Several named templates: transformers uses "default" when no name is asked for.
    for (const entry of value as unknown[]) {
      const { name, template } = (entry ?? {}) as { name?: unknown; template?: unknown };
      if (typeof name !== 'string' || typeof template !== 'string')
        throw new BadInputError(file, null, 'chat_template', 'a list entry needs a string name and template');
      if (name === 'default') return template;
    }
    throw new BadInputError(
      file,
      null,
      'chat_template',
      `several named templates and none is "default": ${(value as { name: string }[]).map((t) => t.name).join(', ')}`,
    );
  }
  throw new BadInputError(file, null, 'chat_template', 'expected a string or a list of {name, template}');
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new BadInputError(file, null, '(file)', (e as Error).message);
  }
}

/** Python's range(), as templates call it. */
function range(start: number, stop?: number, step = 1): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0) throw new Error('range() step must not be zero');
  const out: number[] = [];
  for (let i = from; step > 0 ? i < to : i > to; i += step) out.push(i);
  return out;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** Python's strftime for the directives chat templates use, in English and UTC (not the host's locale). */
function strftime(date: Date, format: string): string {
  const pad2 = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%[YmdbBHM%]/g, (token) => {
    switch (token) {
      case '%Y':
        return String(date.getUTCFullYear());
      case '%m':
        return pad2(date.getUTCMonth() + 1);
      case '%d':
        return pad2(date.getUTCDate());
      case '%b':
        return MONTHS[date.getUTCMonth()].slice(0, 3);
      case '%B':
        return MONTHS[date.getUTCMonth()];
      case '%H':
        return pad2(date.getUTCHours());
      case '%M':
        return pad2(date.getUTCMinutes());
      default:
        return '%';
    }
  });
}
