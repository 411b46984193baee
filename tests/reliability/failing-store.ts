import * as path from 'node:path';
import { LocalArtifactStore } from '../../store';

/** EIO: a transient I/O error (a network mount's hiccup) that activities retry with backoff. */
export type StoreFault = { code: 'ENOSPC' | 'EROFS' | 'EIO'; on: 'drafts' | 'every-write' } | null;

const FAULTS = {
  ENOSPC: { text: 'no space left on device', errno: -28 },
  EROFS: { text: 'read-only file system', errno: -30 },
  EIO: { text: 'i/o error', errno: -5 },
};

/**
 * A real local store whose writes can be made to fail the way a full disk (ENOSPC), a read-only
 * mount (EROFS) or a flaky one (EIO) fails them: the errors carry code, syscall and path as Node's fs errors do.
 */
export class FailingStore extends LocalArtifactStore {
  fault: StoreFault = null;

  private check(kind: 'draft' | 'object'): void {
    if (!this.fault || (this.fault.on === 'drafts' && kind !== 'draft')) return;
    const file = path.join(this.root, kind === 'draft' ? 'drafts' : 'tmp');
    const { text, errno } = FAULTS[this.fault.code];
    throw Object.assign(new Error(`${this.fault.code}: ${text}, write '${file}'`), {
      code: this.fault.code,
      errno,
      syscall: 'write',
      path: file,
    });
  }

  override async put(data: Uint8Array | string) {
    this.check('object');
    return super.put(data);
  }
  override async putFile(file: string) {
    this.check('object');
    return super.putFile(file);
  }
  override async putJsonl(values: Iterable<unknown> | AsyncIterable<unknown>) {
    this.check('object');
    return super.putJsonl(values);
  }
  override async putNamed(name: string, value: unknown) {
    this.check('object');
    return super.putNamed(name, value);
  }
  override async appendDraft(name: string, values: unknown[]) {
    this.check('draft');
    return super.appendDraft(name, values);
  }
}
