import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildCharTokenizerFiles, DEFAULT_ALPHABET, loadTokenizer } from '../../engine/tokenizer';

const llamaFixture = path.resolve(
  __dirname,
  '../../../shared/fixtures/onnx/ort-genai-tiny-random-LlamaForCausalLM-fp16',
);

function writeCharTokenizer(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-tok-'));
  const files = buildCharTokenizerFiles();
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig));
  return dir;
}

describe('built-in character tokenizer (through @huggingface/tokenizers)', () => {
  const tok = loadTokenizer(writeCharTokenizer());

  it('maps every character to one token and decodes back exactly', () => {
    const text =
      "Q: sam has 12 apples and buys 30 more.\nA: Let's think step by step. 12 + 30 = 42. The answer is 42.";
    const ids = tok.encode(text);
    expect(ids).toHaveLength(text.length);
    expect(tok.decode(ids)).toBe(text);
    expect(tok.encode(text, { bos: true })[0]).toBe(tok.bosId);
    expect(tok.decode(tok.encode(text, { bos: true }))).toBe(text);
  });

  it('has the special tokens first and the alphabet after them', () => {
    expect([tok.padId, tok.bosId, tok.eosId]).toEqual([0, 1, 2]);
    expect(tok.vocabSize).toBe(4 + DEFAULT_ALPHABET.length);
    expect(tok.decode([tok.eosId!], { skipSpecial: false })).toBe('</s>');
    expect(tok.decode([tok.eosId!])).toBe('');
  });

  it('sends characters outside the alphabet to <unk>', () => {
    expect(tok.encode('é')).toEqual([3]);
  });
});

describe('a real Llama tokenizer through the same loader', () => {
  it('encodes with BOS and decodes back (the ONNX fixture)', () => {
    const tok = loadTokenizer(llamaFixture);
    expect([tok.bosId, tok.eosId]).toEqual([1, 2]);
    expect(tok.vocabSize).toBe(32000);
    const ids = tok.encode('The answer is 42.', { bos: true });
    expect(ids[0]).toBe(1);
    expect(tok.decode(ids)).toBe('The answer is 42.');
  });

  it('names the missing file of a folder without a tokenizer', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-notok-'));
    expect(() => loadTokenizer(dir)).toThrow(
      `${path.join(dir, 'tokenizer.json')}: tokenizer.json: file not found`,
    );
  });
});
