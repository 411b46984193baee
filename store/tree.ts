import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { InvalidRefError } from './errors';
import type { ArtifactRef, TreeManifest } from './types';

// What every store does the same way for trees: list a folder, and check a manifest before anything
// is written from it.

/** Every regular file under dir, as sorted relative POSIX paths. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await fs.readdir(path.join(dir, prefix), { withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/**
 * Where each file of the tree manifest `manifest` (read from `ref`) goes under `dest`, as
 * [absolute target, file ref] pairs; a value that is not a tree, or a file that would land outside
 * `dest`, is refused before anything is written.
 */
export function treeTargets(
  manifest: TreeManifest | null,
  ref: ArtifactRef,
  dest: string,
): [string, ArtifactRef][] {
  if (manifest?.kind !== 'lmsi.tree' || typeof manifest.files !== 'object') {
    throw new InvalidRefError(ref, 'not a tree manifest');
  }
  const root = path.resolve(dest);
  return Object.entries(manifest.files).map(([rel, fileRef]) => {
    const target = path.resolve(root, rel);
    if (path.isAbsolute(rel) || !target.startsWith(root + path.sep)) {
      throw new InvalidRefError(rel, `tree ${ref} names a file outside its folder`);
    }
    return [target, fileRef];
  });
}
