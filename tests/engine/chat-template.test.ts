import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeCompletion } from '../../engine/generate/detokenize';
import { stopStrings } from '../../engine/generate/processors';
import { loadChatTemplate, loadTokenizer } from '../../engine/tokenizer';
import { isBadInputError } from '../../base/errors';
import { getTask } from '../../method/tasks';

const HF = path.resolve(__dirname, '../fixtures/hf-models');
/** ChatML (Qwen2 style), template in tokenizer_config.json. */
const QWEN2 = path.join(HF, 'qwen2');
/** ChatML without a system turn, template in chat_template.jinja (as newer transformers saves it). */
const QWEN3 = path.join(HF, 'qwen3');
/** Llama 3 style: {{ bos_token }} in the template, <|eot_id|> ends a turn. */
const LLAMA3 = path.join(HF, 'llama3-rope');
/** A real Llama 2 tokenizer and chat template (SentencePiece, `[INST]`, `</s>` ends a turn). */
const LLAMA2 = path.resolve(
  __dirname,
  '../../../shared/fixtures/onnx/ort-genai-tiny-random-LlamaForCausalLM-fp16',
);

function templateOf(dir: string) {
  const tok = loadTokenizer(dir);
  const template = loadChatTemplate(dir, tok);
  if (template === null) throw new Error(`${dir} has no chat template`);
  return { tok, template };
}

/** A copy of a fixture folder with tokenizer_config.json edited (and other files added). */
function variant(
  from: string,
  edit: (config: Record<string, unknown>) => void,
  files: Record<string, string> = {},
) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-chat-'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'])
    cpSync(path.join(from, f), path.join(dir, f));
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(configFile, JSON.stringify(config));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('chat templates', () => {
  it('finds the template in tokenizer_config.json or in chat_template.jinja beside it', () => {
    expect(templateOf(QWEN2).template.file).toBe(path.join(QWEN2, 'tokenizer_config.json'));
    expect(templateOf(QWEN3).template.file).toBe(path.join(QWEN3, 'chat_template.jinja'));
    const none = variant(QWEN2, (c) => delete c.chat_template);
    expect(loadChatTemplate(none, loadTokenizer(none))).toBeNull();
  });

  it('takes the "default" one of several named templates, and chat_template.jinja first', () => {
    const named = variant(QWEN2, (c) => {
      c.chat_template = [
        { name: 'tool_use', template: 'TOOLS' },
        { name: 'default', template: '{{ messages[0].content }}!' },
      ];
    });
    expect(templateOf(named).template.generationPrompt('hi')).toBe('hi!');
    const both = variant(QWEN2, () => {}, { 'chat_template.jinja': '[{{ messages[0].content }}]' });
    expect(templateOf(both).template.generationPrompt('hi')).toBe('[hi]');
  });

  it('splits a turn where the generation prompt ends; the completion ends with the end-of-turn token', () => {
    const cases = [
      [QWEN2, '<|im_end|>', '<|im_start|>assistant\n'],
      [QWEN3, '<|im_end|>', '<|im_start|>assistant\n'],
      [LLAMA3, '<|eot_id|>', '<|start_header_id|>assistant<|end_header_id|>\n\n'],
    ] as const;
    for (const [dir, end, opening] of cases) {
      const { template } = templateOf(dir);
      expect(template.endOfTurn()).toBe(end);
      const turn = template.turn('Q: What is 2 + 3?', 'The answer is 5.');
      expect(turn.prompt).toBe(template.generationPrompt('Q: What is 2 + 3?'));
      expect(turn.prompt.endsWith(opening)).toBe(true);
      // The newline ChatML writes after <|im_end|> belongs to the next turn, not to the answer.
      expect(turn.completion).toBe(`The answer is 5.${end}`);
    }
    const llama2 = templateOf(LLAMA2).template;
    expect(llama2.endOfTurn()).toBe('</s>');
    expect(llama2.turn('Q: 2 + 2?', 'The answer is 4.')).toEqual({
      prompt: '<s>[INST] Q: 2 + 2? [/INST]',
      completion: ' The answer is 4. </s>',
    });
  });

  it('prints a fixed date where a template asks strftime_now, so prompts do not change by the day', () => {
    const dir = variant(QWEN2, (c) => {
      c.chat_template = 'Today: {{ strftime_now("%d %b %Y") }} / {{ strftime_now("%Y-%m-%d") }}';
    });
    const { template } = templateOf(dir);
    expect(template.generationPrompt('x')).toBe('Today: 26 Jul 2024 / 2024-07-26');
    expect(template.render([], { addGenerationPrompt: true, now: new Date(Date.UTC(2025, 0, 2)) })).toBe(
      'Today: 02 Jan 2025 / 2025-01-02',
    );
  });

  // A token the config leaves null is not passed at all (transformers' special_tokens_map omits it).
  it('passes the special tokens map as transformers does', () => {
    const dir = variant(QWEN2, (c) => {
      c.chat_template =
        '{{ eos_token }}|{{ pad_token }}|{{ bos_token is defined }}|{{ additional_special_tokens | join(",") }}';
    });
    expect(templateOf(dir).template.generationPrompt('x')).toBe(
      '<|im_end|>|<|endoftext|>|false|<|im_start|>,<|im_end|>',
    );
  });

  it("fails as bad input naming the template's file: syntax errors and raise_exception", () => {
    const broken = variant(QWEN2, (c) => (c.chat_template = '{% for m in messages %}{{ m.content }'));
    expect(() => templateOf(broken)).toThrow(path.join(broken, 'tokenizer_config.json'));
    const raising = variant(QWEN2, (c) => {
      c.chat_template =
        "{% if messages[0].role != 'system' %}{{ raise_exception('needs a system turn') }}{% endif %}";
    });
    let error: unknown;
    try {
      templateOf(raising).template.generationPrompt('x');
    } catch (e) {
      error = e;
    }
    expect(isBadInputError(error)).toBe(true);
    expect((error as Error).message).toBe(
      `${path.join(raising, 'tokenizer_config.json')}: chat_template: rendering failed: needs a system turn`,
    );
    const jinja = variant(QWEN2, () => {}, { 'chat_template.jinja': '{{ ' });
    expect(() => templateOf(jinja)).toThrow(`${path.join(jinja, 'chat_template.jinja')}: chat_template:`);
    for (const d of [broken, raising, jinja]) rmSync(d, { recursive: true, force: true });
  });
});

describe("stopping at a template's end-of-turn token", () => {
  it('stops on the token (never in decoded text) and the answer is read without it', () => {
    for (const dir of [QWEN2, LLAMA3]) {
      const { tok, template } = templateOf(dir);
      const end = template.endOfTurn()!;
      const prompt = tok.encode(template.generationPrompt('Q: What is 2 + 3?'), { bos: true });
      const reply = tok.encode(`2 + 3 = 5. The answer is 5.${end}ignored`);
      const endAt = reply.indexOf(tok.tokenizer.token_to_id(end)!);
      const row = stopStrings([end], tok).start(prompt);
      const reasons = reply.map((id) => row.push(id));
      expect(reasons.indexOf('stop')).toBe(endAt);
      const text = decodeCompletion(tok, prompt, reply.slice(0, endAt + 1));
      expect(text).toBe('2 + 3 = 5. The answer is 5.');
      expect(getTask('gsm8k').extractAnswer(text)).toBe('5');
    }
  });
});
