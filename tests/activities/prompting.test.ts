import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promptingFor } from '../../activities/prompting';
import { buildCharTokenizerFiles, loadTokenizer } from '../../engine/tokenizer';
import { buildMicroBatch, packRows, tokenizeExamples } from '../../engine/train';
import { chatUserTurn } from '../../method/formats';
import { mixedFormats } from '../../method/mixed-formats';
import { getTask } from '../../method/tasks';
import { FORMAT_NAMES } from '../../method/types';
import type { Exemplar, Question } from '../../method/types';
import { answerPaths } from '../../method/vote';

const HF = path.resolve(__dirname, '../fixtures/hf-models');
const QWEN2 = path.join(HF, 'qwen2');
const LLAMA3 = path.join(HF, 'llama3-rope');
const LLAMA2 = path.resolve(
  __dirname,
  '../../../shared/fixtures/onnx/ort-genai-tiny-random-LlamaForCausalLM-fp16',
);

const task = getTask('gsm8k');
const source = { file: 'q.jsonl', line: 1 };
const question: Question = {
  id: 'q1',
  text: 'Tom has 3 apples and buys 2 more. How many?',
  gold: null,
  source,
};
const exemplar: Exemplar = {
  question: 'Q: There are 3 cars and 2 more arrive. How many cars are there?',
  rationale: 'There are 3 + 2 = 5 cars.',
  answer: '5',
};
const kept = answerPaths(task, question, [
  {
    questionId: 'q1',
    pathIndex: 0,
    text: 'He has 3 + 2 = 5 apples. The answer is 5.',
    sumLogprob: -1,
    finishReason: 'stop',
  },
]);
const examples = mixedFormats(kept, FORMAT_NAMES, {
  task,
  questions: [question],
  exemplars: [[exemplar]],
  seed: 1,
});

describe('the mixed formats as chat turns', () => {
  it('puts exemplars and question in the user turn, without the answer cue', () => {
    const byFormat = Object.fromEntries(examples.map((e) => [e.format, chatUserTurn(e.prompt)]));
    expect(byFormat['few-shot-cot']).toBe(
      'Q: There are 3 cars and 2 more arrive. How many cars are there?\n' +
        'A: There are 3 + 2 = 5 cars. The answer is 5.\n\n' +
        'Q: Tom has 3 apples and buys 2 more. How many?',
    );
    expect(byFormat['few-shot-direct']).toBe(
      'Q: There are 3 cars and 2 more arrive. How many cars are there?\nA: The answer is 5.\n\n' +
        'Q: Tom has 3 apples and buys 2 more. How many?',
    );
    expect(byFormat['zero-shot-cot']).toBe(
      "Q: Tom has 3 apples and buys 2 more. How many?\nLet's think step by step.",
    );
    expect(byFormat['zero-shot-direct']).toBe('Q: Tom has 3 apples and buys 2 more. How many?');
    // A prompt in no such layout is its own user turn.
    expect(chatUserTurn('  Translate: chat\n')).toBe('Translate: chat');
  });

  it('renders each format as the template does, the completion in the assistant turn', () => {
    const prompting = promptingFor(QWEN2, loadTokenizer(QWEN2), 'auto');
    expect(prompting.template).not.toBeNull();
    for (const e of examples) {
      const chat = prompting.example(e);
      const user = chatUserTurn(e.prompt);
      expect(chat.prompt).toBe(
        `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`,
      );
      expect(chat.prompt).toBe(prompting.prompt(e.prompt)); // trained exactly as it is sampled
      expect(chat.completion).toBe(`${e.completion.trim()}<|im_end|>`);
    }
  });

  it("stops sampling at the template's end of turn instead of the raw prompts' blank line", () => {
    const prompting = promptingFor(LLAMA3, loadTokenizer(LLAMA3), 'auto');
    expect(prompting.stop(['\n\n'])).toEqual(['<|eot_id|>']);
    expect(prompting.stop(['\n\n', 'Q:'])).toEqual(['Q:', '<|eot_id|>']);
  });

  it("keeps raw prompts with prompting.chatTemplate 'none', for an older campaign, or without a template", () => {
    const charDir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-prompting-'));
    const files = buildCharTokenizerFiles();
    writeFileSync(path.join(charDir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
    writeFileSync(path.join(charDir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig));
    for (const [dir, mode] of [
      [QWEN2, 'none'],
      [QWEN2, undefined],
      [charDir, 'auto'],
    ] as const) {
      const raw = promptingFor(dir, loadTokenizer(dir), mode);
      expect(raw.template).toBeNull();
      expect(raw.prompt(examples[0].prompt)).toBe(examples[0].prompt);
      expect(raw.example(examples[0])).toEqual({
        prompt: examples[0].prompt,
        completion: examples[0].completion,
      });
      expect(raw.stop(['\n\n'])).toEqual(['\n\n']);
    }
  });
});

describe('the loss covers the assistant turn only (real token ids)', () => {
  /** The targets the loss is computed on, and the inputs before the first of them. */
  function lossSpan(dir: string) {
    const tok = loadTokenizer(dir);
    const prompting = promptingFor(dir, tok, 'auto');
    const chat = examples.map((e) => prompting.example(e));
    const { sequences } = tokenizeExamples(chat, tok, 512);
    expect(sequences).toHaveLength(chat.length);
    const rows = packRows(
      sequences.map((_, i) => i),
      sequences,
      512,
      false,
    );
    const mb = buildMicroBatch(rows, sequences, rows.length, 512, tok.padId);
    return sequences.map((s, r) => {
      const masked: number[] = [];
      for (let j = 0; j < 512; j++)
        if (mb.lossMask[r * 512 + j] === 1) masked.push(Number(mb.targets[r * 512 + j]));
      return { tok, chat: chat[r], seq: s, masked };
    });
  }

  it('ChatML and Llama 3: the answer and its end-of-turn token, no template text, no extra EOS', () => {
    for (const [dir, end] of [
      [QWEN2, '<|im_end|>'],
      [LLAMA3, '<|eot_id|>'],
    ] as const) {
      for (const { tok, chat, seq, masked } of lossSpan(dir)) {
        const answer = chat.completion.slice(0, -end.length);
        expect(tok.decode(masked, { skipSpecial: false })).toBe(`${answer}${end}`);
        // The last trained token is the end of turn, once: the model learns to stop there.
        expect(masked[masked.length - 1]).toBe(tok.tokenizer.token_to_id(end));
        expect(masked.filter((id) => tok.specialIds.has(id))).toHaveLength(1);
        // Everything before is the rendered prompt, untrained, with BOS only where the template wrote it.
        expect(seq.ids.slice(0, seq.promptLen)).toEqual(tok.encode(chat.prompt));
        expect(seq.ids.filter((id) => id === tok.bosId).length).toBe(tok.bosId === null ? 0 : 1);
      }
    }
  });

  it('Llama 2: the answer starts with the token a model writes after [/INST], and ends with </s>', () => {
    for (const { tok, chat, masked } of lossSpan(LLAMA2)) {
      expect(chat.completion.endsWith(' </s>')).toBe(true);
      expect(tok.decode(masked, { skipSpecial: false }).trim()).toBe(chat.completion.trim());
      // Tokenised in context: "▁The", not a lone "▁" and then "▁The" as the completion alone gives.
      expect(masked[0]).toBe(
        tok.encode(`${chat.prompt}${chat.completion}`, { bos: true })[
          tok.encode(chat.prompt, { bos: true }).length
        ],
      );
      expect(tok.tokenizer.id_to_token(masked[0])).not.toBe('▁');
      expect(masked[masked.length - 1]).toBe(tok.eosId);
      expect(masked.filter((id) => id === tok.eosId)).toHaveLength(1);
    }
  });
});
