import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BadInputError } from '../errors';
import { WHOLE_FILE } from './records';

/** Opens a data file as a byte stream, gunzipping `.gz`; a missing file or a directory is bad input. */
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
  if (!file.endsWith('.gz')) return { stream: input, close: () => input.destroy() };
  const gunzip = createGunzip();
  // pipe() does not forward a source error; without this a read error would hang the reader.
  input.on('error', (e) => gunzip.destroy(e));
  input.pipe(gunzip);
  return {
    stream: gunzip,
    close: () => {
      input.destroy();
      gunzip.destroy();
    },
  };
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
