import { Transform, type TransformCallback } from 'node:stream';
import { BadInputError } from '../../base/errors';

export const ENCODING_FIELD = '(encoding)';

/**
 * A pass-through stream that checks its bytes are UTF-8 and fails with a BadInputError naming the
 * file, line and column of the first byte that is not. Node's decoders turn such bytes into U+FFFD
 * silently, so a Latin-1 "café" would otherwise enter the campaign, its audit and its training set
 * as "caf\uFFFD". Checked on the raw bytes, across chunk boundaries, before any line is parsed.
 */
export class Utf8Check extends Transform {
  private line = 1;
  private column = 0;
  /** Continuation bytes still expected by the sequence in progress. */
  private need = 0;
  /** The allowed range of the next continuation byte (narrower after E0, ED, F0, F4). */
  private lo = 0x80;
  private hi = 0xbf;
  /** Where the sequence in progress started (reported when it is cut short). */
  private start = { line: 1, column: 0, byte: 0 };

  constructor(private readonly file: string) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    for (const b of chunk) {
      this.column++;
      if (this.need > 0) {
        if (b < this.lo || b > this.hi) {
          done(this.invalid(this.start.line, this.start.column, this.start.byte));
          return;
        }
        this.need--;
        this.lo = 0x80;
        this.hi = 0xbf;
        continue;
      }
      if (b === 0x0a) {
        this.line++;
        this.column = 0;
        continue;
      }
      if (b < 0x80) continue;
      this.start = { line: this.line, column: this.column, byte: b };
      if (b >= 0xc2 && b <= 0xdf) this.need = 1;
      else if (b === 0xe0) [this.need, this.lo] = [2, 0xa0];
      else if (b === 0xed) [this.need, this.hi] = [2, 0x9f];
      else if (b >= 0xe1 && b <= 0xef) this.need = 2;
      else if (b === 0xf0) [this.need, this.lo] = [3, 0x90];
      else if (b === 0xf4) [this.need, this.hi] = [3, 0x8f];
      else if (b >= 0xf1 && b <= 0xf3) this.need = 3;
      else {
        done(this.invalid(this.line, this.column, b));
        return;
      }
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    done(this.need > 0 ? this.invalid(this.start.line, this.start.column, this.start.byte) : null);
  }

  private invalid(line: number, column: number, byte: number): BadInputError {
    const hex = byte.toString(16).padStart(2, '0');
    return new BadInputError(
      this.file,
      line,
      ENCODING_FIELD,
      `not valid UTF-8 (byte 0x${hex} at column ${column}): save the file as UTF-8`,
    );
  }
}
