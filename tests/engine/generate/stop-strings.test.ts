import { Rng } from '../../../base/rng';
import { IncrementalDetokenizer, decodeCompletion } from '../../../engine/generate/detokenize';
import { cutAtStop, stopStrings } from '../../../engine/generate/processors';
import { loadTokenizer } from '../../../engine/tokenizer';
import { LLAMA_FP16 } from './fixture';

// The fixture's SentencePiece tokenizer: leading-space markers and byte-fallback tokens (<0xE2>...)
// are exactly what makes decoding token by token differ from decoding the whole completion.
const tok = loadTokenizer(LLAMA_FP16);

describe('incremental detokenization', () => {
  it('releases the same text as decoding the whole completion after its prompt', () => {
    const rng = new Rng(3);
    const prompt = tok.encode('Question: how far is 12 km? Answer:', { bos: true });
    const samples = ['The answer is 12 km. Done.', ' naïve — “quoted” 東京 😀 end', '\n\nQ: next?'];
    for (const s of samples) {
      const ids = tok.encode(s);
      const d = new IncrementalDetokenizer(tok, prompt);
      for (const id of ids) d.push(id);
      expect(d.text).toBe(decodeCompletion(tok, prompt, ids));
      expect(d.text.trim()).toBe(s.trim());
    }
    for (let t = 0; t < 20; t++) {
      const ids = Array.from({ length: 30 }, () => rng.int(3, tok.vocabSize - 1));
      const d = new IncrementalDetokenizer(tok, prompt);
      for (const id of ids) d.push(id);
      const whole = decodeCompletion(tok, prompt, ids);
      // Released text never runs ahead of the whole decode; at most an incomplete character is held back.
      expect(whole.startsWith(d.text)).toBe(true);
      expect(whole.length - d.text.length).toBeLessThanOrEqual(1);
    }
  });

  it('keeps the space a completion starts with after its prompt', () => {
    const prompt = tok.encode('A:', { bos: true });
    const whole = tok.encode('A: 42', { bos: true });
    expect(whole.slice(0, prompt.length)).toEqual(prompt);
    const completion = whole.slice(prompt.length);
    expect(decodeCompletion(tok, prompt, completion)).toBe(' 42');
    // Decoded on its own the completion would lose its leading space.
    expect(tok.decode(completion)).toBe('42');
  });
});

describe('stop strings', () => {
  const prompt = tok.encode('Q: 1 + 1?\nA:', { bos: true });

  function firstStop(stops: string[], text: string): number | null {
    const s = stopStrings(stops, tok).start(prompt);
    const ids = tok.encode(text);
    for (let i = 0; i < ids.length; i++) if (s.push(ids[i]) === 'stop') return i;
    return null;
  }

  it('stops on the token that completes a stop string, even one split across tokens', () => {
    const text = ' The answer is 2.\n\nQ: 2 + 2?';
    const ids = tok.encode(text);
    const at = firstStop(['\n\nQ:'], text);
    expect(at).not.toBeNull();
    const upTo = decodeCompletion(tok, prompt, ids.slice(0, (at as number) + 1));
    const before = decodeCompletion(tok, prompt, ids.slice(0, at as number));
    expect(upTo).toContain('\n\nQ:');
    expect(before).not.toContain('\n\nQ:');
    expect(firstStop(['never'], text)).toBeNull();
  });

  it('finds a stop string inside a single token and with several stop strings', () => {
    expect(firstStop(['answer'], ' The answer is 2.')).not.toBeNull();
    expect(firstStop(['zzz', 'is 2'], ' The answer is 2.')).not.toBeNull();
  });

  it('cuts the text where the earliest stop string begins', () => {
    expect(cutAtStop(' 4.\n\nQ: next\nQ:', ['\nQ:', '\n\nQ:'])).toBe(' 4.');
    expect(cutAtStop('abcXYZdefXY', ['XY', 'def'])).toBe('abc');
    expect(cutAtStop('no stop here', ['\n'])).toBe('no stop here');
    expect(cutAtStop('Q: first', ['Q:'])).toBe('');
  });

  it('rejects an empty stop string', () => {
    expect(() => stopStrings([''], tok)).toThrow(RangeError);
  });
});
