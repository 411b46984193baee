import * as path from 'node:path';
import { LocalArtifactStore } from '../../store';

export type StoreFault = { code: 'ENOSPC' | 'EROFS'; on: 'drafts' | 'every-write' } | null;

/**
 * A real local store whose writes can be made to fail the way a full disk (ENOSPC) or a read-only
 * mount (EROFS) fails them: the errors carry code, syscall and path as Node's fs errors do.
 */
export class FailingStore extends LocalArtifactStore {
  fault: StoreFault = null;

  private check(kind: 'draft' | 'object'): void {
    if (!this.fault || (this.fault.on === 'drafts' && kind !== 'draft')) return;
    const file = path.join(this.root, kind === 'draft' ? 'drafts' : 'tmp');
    const text = this.fault.code === 'ENOSPC' ? 'no space left on device' : 'read-only file system';
    throw Object.assign(new Error(`${this.fault.code}: ${text}, write '${file}'`), {
      code: this.fault.code,
      errno: this.fault.code === 'ENOSPC' ? -28 : -30,
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
