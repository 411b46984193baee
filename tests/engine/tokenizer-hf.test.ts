import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildCharTokenizerFiles, loadChatTemplate, loadTokenizer } from '../../engine/tokenizer';
import { isBadInputError } from '../../base/errors';

/**
 * Tokenizers against transformers: the fixtures of tests/fixtures/hf-models (made by its
 * make_fixtures.py with transformers) record transformers' input_ids for each case's prompt and
 * apply_chat_template's text and ids for each chat.
 */

const FIXTURES = path.resolve(__dirname, '../fixtures/hf-models');

interface Expected {
  name: string;
  cases: { prompt: string; input_ids: number[] }[];
  chat?: {
    messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
    add_generation_prompt: boolean;
    text: string;
    input_ids: number[];
  }[];
}

const expected: Expected[] = readdirSync(path.join(FIXTURES, 'expected'))
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(FIXTURES, 'expected', f), 'utf8')) as Expected);

const hasDecoder = (dir: string) =>
  'decoder' in (JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as object);

describe('tokenizers as transformers reads them (hf-models fixtures)', () => {
  it('has fixtures with tokenizer cases and chats', () => {
    expect(expected.filter((e) => e.cases.length > 0).length).toBeGreaterThanOrEqual(3);
    expect(expected.filter((e) => (e.chat ?? []).length > 0).length).toBeGreaterThanOrEqual(2);
  });

  describe.each(expected.map((e) => [e.name, e] as const))('%s', (name, e) => {
    const dir = path.join(FIXTURES, name);

    it("encodes every case to transformers' input_ids (BOS as encode(text, {bos}) decides) and decodes back", () => {
      const tok = loadTokenizer(dir);
      for (const c of e.cases) {
        const ids = tok.encode(c.prompt, { bos: true });
        expect(ids).toEqual(c.input_ids);
        // Decoded text round-trips, also where tokenizer.json has no decoder (one is inferred).
        expect(tok.decode(ids)).toBe(c.prompt);
      }
    });

    const chats = e.chat ?? [];
    if (chats.length > 0)
      it("renders every chat to apply_chat_template's text and ids", () => {
        const tok = loadTokenizer(dir);
        const template = loadChatTemplate(dir, tok);
        expect(template).not.toBeNull();
        for (const c of chats) {
          const text = template!.render(c.messages, { addGenerationPrompt: c.add_generation_prompt });
          expect(text).toBe(c.text);
          // apply_chat_template tokenises without special tokens; the sampler's encode with BOS
          // does not add a second BOS to a text whose template wrote one.
          expect(tok.encode(text)).toEqual(c.input_ids);
          expect(tok.encode(text, { bos: true })).toEqual(c.input_ids);
        }
      });
  });

  it('includes a tokenizer.json without a decoder key, and it still round-trips', () => {
    const withoutDecoder = expected.filter((e) => !hasDecoder(path.join(FIXTURES, e.name)));
    expect(withoutDecoder.length).toBeGreaterThanOrEqual(1);
  });
});

describe('BOS and EOS as transformers decides them', () => {
  const fixture = (name: string) => path.join(FIXTURES, name);

  it('takes BOS from the post-processor template (Llama 3: a Sequence holding TemplateProcessing)', () => {
    const llama3 = expected.find((e) => {
      const json = readFileSync(path.join(fixture(e.name), 'tokenizer.json'), 'utf8');
      return json.includes('<|begin_of_text|>');
    });
    expect(llama3).toBeDefined();
    const tok = loadTokenizer(fixture(llama3!.name));
    const bos = tok.tokenizer.token_to_id('<|begin_of_text|>')!;
    expect(tok.prefixIds).toEqual([bos]);
    expect(tok.encode('Hi', { bos: true })[0]).toBe(bos);
    // A text that already starts with BOS (a rendered template) gets no second one.
    expect(tok.encode('<|begin_of_text|>Hi', { bos: true })).toEqual(tok.encode('Hi', { bos: true }));
  });

  it('adds no BOS where the post-processor adds none (Qwen: ByteLevel only, bos_token null)', () => {
    const qwen = expected.find((e) => {
      const json = readFileSync(path.join(fixture(e.name), 'tokenizer.json'), 'utf8');
      return json.includes('<|im_end|>') && !json.includes('<|begin_of_text|>');
    });
    expect(qwen).toBeDefined();
    const tok = loadTokenizer(fixture(qwen!.name));
    expect(tok.bosId).toBeNull();
    expect(tok.prefixIds).toEqual([]);
    expect(tok.encode('Hi', { bos: true })).toEqual(tok.encode('Hi'));
    expect(tok.eosId).toBe(tok.tokenizer.token_to_id('<|im_end|>'));
  });

  it('lets tokenizer_config add_bos_token override the template, as Llama tokenizers do', () => {
    const dir = writeTokenizer((json, config) => {
      config.add_bos_token = false;
      return [json, config];
    });
    expect(loadTokenizer(dir).prefixIds).toEqual([]);
  });

  it('matches special tokens in text as single tokens and skips them when decoding', () => {
    const qwen = expected.find((e) =>
      readFileSync(path.join(fixture(e.name), 'tokenizer.json'), 'utf8').includes('<|im_end|>'),
    )!;
    const tok = loadTokenizer(fixture(qwen.name));
    const end = tok.tokenizer.token_to_id('<|im_end|>')!;
    const ids = tok.encode('Yes.<|im_end|>\n');
    expect(ids).toContain(end);
    expect(tok.specialIds.has(end)).toBe(true);
    expect(tok.decode(ids)).toBe('Yes.\n');
    expect(tok.decode(ids, { skipSpecial: false })).toBe('Yes.<|im_end|>\n');
    expect(tok.decode([])).toBe('');
  });
});

describe('tokenizer.json with optional sections absent', () => {
  it('loads without decoder, normalizer, pre_tokenizer, post_processor or added_tokens', () => {
    const dir = writeTokenizer((json, config) => {
      for (const key of ['decoder', 'normalizer', 'pre_tokenizer', 'post_processor', 'added_tokens'])
        delete json[key];
      delete config.add_bos_token;
      return [json, config];
    });
    const tok = loadTokenizer(dir);
    // No post-processor: transformers adds no BOS.
    expect(tok.prefixIds).toEqual([]);
    expect(tok.decode(tok.encode('ab c'))).toBe('a b   c'); // no decoder: tokens joined by spaces
  });

  it('fails as bad input naming tokenizer.json when the library cannot read it', () => {
    const dir = writeTokenizer((json, config) => {
      (json.model as Record<string, unknown>).type = 'NoSuchModel';
      delete (json.model as Record<string, unknown>).vocab;
      return [json, config];
    });
    let error: unknown;
    try {
      loadTokenizer(dir);
    } catch (e) {
      error = e;
    }
    expect(isBadInputError(error)).toBe(true);
    expect((error as Error).message).toContain(path.join(dir, 'tokenizer.json'));
  });

  it('names tokenizer_config.json when its eos_token is not in the vocabulary', () => {
    const dir = writeTokenizer((json, config) => {
      config.eos_token = '<|nowhere|>';
      return [json, config];
    });
    expect(() => loadTokenizer(dir)).toThrow(
      `${path.join(dir, 'tokenizer_config.json')}: eos_token: token "<|nowhere|>" is not in the vocabulary`,
    );
  });
});

type Json = Record<string, unknown>;

function writeTokenizer(edit: (json: Json, config: Json) => [Json, Json]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-tok-hf-'));
  const files = buildCharTokenizerFiles();
  const [json, config] = edit(structuredClone(files.tokenizerJson), structuredClone(files.tokenizerConfig));
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}
