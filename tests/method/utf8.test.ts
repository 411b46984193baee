import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isBadInputError } from '../../base/errors';
import { Utf8Check } from '../../method/load/utf8';

/** Runs bytes through the check in the given chunks; resolves to the error message or 'ok'. */
async function check(...chunks: number[][]): Promise<string> {
  const sink: Buffer[] = [];
  try {
    await pipeline(
      Readable.from(chunks.map((c) => Buffer.from(c))),
      new Utf8Check('f.jsonl'),
      async (source: AsyncIterable<Buffer>) => {
        for await (const b of source) sink.push(b);
      },
    );
  } catch (e) {
    expect(isBadInputError(e)).toBe(true);
    return (e as Error).message;
  }
  expect(Buffer.concat(sink)).toEqual(Buffer.concat(chunks.map((c) => Buffer.from(c))));
  return 'ok';
}

const bytes = (s: string) => [...Buffer.from(s, 'utf8')];

describe('Utf8Check', () => {
  it('passes UTF-8 through unchanged, a sequence split across chunks included', async () => {
    const text = bytes('café ✓ 😀\nnext line\n');
    expect(await check(text)).toBe('ok');
    for (let cut = 1; cut < text.length; cut++) {
      expect(await check(text.slice(0, cut), text.slice(cut))).toBe('ok');
    }
  });

  it('names the line and column of a Latin-1 byte, an overlong form, a surrogate, a cut sequence', async () => {
    expect(await check([...bytes('ok\ncaf'), 0xe9, 0x0a])).toBe(
      'f.jsonl:2: (encoding): not valid UTF-8 (byte 0xe9 at column 4): save the file as UTF-8',
    );
    expect(await check([0x41, 0xc0, 0x80])).toMatch(
      /^f\.jsonl:1: \(encoding\): not valid UTF-8 \(byte 0xc0 at column 2\)/,
    );
    expect(await check([0xed, 0xa0, 0x80])).toMatch(/\(byte 0xed at column 1\)/);
    expect(await check([0x0a, 0x0a, 0xe2, 0x9c])).toMatch(/^f\.jsonl:3: .*\(byte 0xe2 at column 1\)/);
    expect(await check([0xe2], [0x41])).toMatch(/\(byte 0xe2 at column 1\)/);
  });
});
