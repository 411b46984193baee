import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BadInputError } from '../../base/errors';
import { WHOLE_FILE } from './records';
import { Utf8Check } from './utf8';

/**
 * Opens a data file as a byte stream, gunzipping `.gz` and checking the bytes are UTF-8 (a byte that
 * is not fails as bad input naming its line); a missing file or a directory is bad input.
 */
export async function openDataFile(file: string): Promise<{ stream: Readable; close: () => void }> {
  const info = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new BadInputError(
      file,
      null,
      WHOLE_FILE,
      e.code === 'ENOENT' ? 'no such file' : `cannot read (${e.code})`,
    );
  });
  if (!info.isFile()) throw new BadInputError(file, null, WHOLE_FILE, 'not a regular file');
  const input = createReadStream(file);
  const utf8 = new Utf8Check(file);
  const stages: Readable[] = [input];
  if (file.endsWith('.gz')) stages.push(createGunzip());
  stages.push(utf8);
  for (let i = 1; i < stages.length; i++) {
    // pipe() does not forward a source error; without this a read error would hang the reader.
    stages[i - 1].on('error', (e) => stages[i].destroy(e));
    stages[i - 1].pipe(stages[i] as Transform);
  }
  return { stream: utf8, close: () => stages.forEach((s) => s.destroy()) };
}

export function readFailure(file: string, e: unknown): BadInputError {
  // Not `instanceof Error`: stream errors may come from another realm (jest's VM contexts).
  const message = typeof (e as Error)?.message === 'string' ? (e as Error).message : String(e);
  const gz = file.endsWith('.gz') && (e as NodeJS.ErrnoException)?.code?.startsWith('Z_');
  return new BadInputError(
    file,
    null,
    WHOLE_FILE,
    gz ? `not valid gzip: ${message}` : `cannot read: ${message}`,
  );
}
