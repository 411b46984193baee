import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import * as path from 'node:path';

let counter = 0;

/**
 * Writes a file (its bytes, or pieces of them one after another) and flushes it to disk before
 * returning.
 */
export function writeDurable(file: string, data: Uint8Array | string | Iterable<Uint8Array>): void {
  const fd = openSync(file, 'w');
  try {
    const pieces =
      typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
    for (const bytes of pieces) {
      let at = 0;
      // One write takes at most 2 GiB - 1 bytes (Node's limit): a 0.5B model's AdamW moments are more.
      while (at < bytes.length) at += writeSync(fd, bytes, at, Math.min(bytes.length - at, 2 ** 30));
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Names of the temporary folders `replaceDirAtomically` leaves behind when a process dies in it. */
export function isTemporaryDir(name: string): boolean {
  return /^\..+\.(tmp|old)-\d+-\d+$/.test(name);
}

/**
 * Fills a fresh temporary folder beside `dir`, then renames it to `dir`, so a reader never sees a
 * half-written folder: it sees the old one, or the complete new one. (An existing `dir` is moved
 * aside first, because rename cannot replace a non-empty folder; a crash between the two renames
 * leaves `dir` missing and the old one under a temporary name, never a torn folder.)
 */
export function replaceDirAtomically(dir: string, fill: (tmp: string) => void): void {
  const parent = path.dirname(path.resolve(dir));
  const base = path.basename(dir);
  mkdirSync(parent, { recursive: true });
  const unique = `${process.pid}-${counter++}`;
  const tmp = path.join(parent, `.${base}.tmp-${unique}`);
  mkdirSync(tmp);
  try {
    fill(tmp);
    fsyncDir(tmp);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const old = path.join(parent, `.${base}.old-${unique}`);
  const replacing = existsSync(dir);
  if (replacing) renameSync(dir, old);
  renameSync(tmp, dir);
  fsyncDir(parent);
  if (replacing) rmSync(old, { recursive: true, force: true });
}
