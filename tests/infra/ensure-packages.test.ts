import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { mismatch } = require('../../infra/npm/ensure-packages.js') as {
  mismatch: (root: string) => string | null;
};

/** A project folder with this lock and, unless null, this record of installed packages. */
function project(lock: Record<string, object>, installed: Record<string, object> | null): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lmsi-ensure-'));
  writeFileSync(path.join(root, 'package-lock.json'), JSON.stringify({ packages: lock }));
  if (installed) {
    mkdirSync(path.join(root, 'node_modules'));
    writeFileSync(
      path.join(root, 'node_modules', '.package-lock.json'),
      JSON.stringify({ packages: installed }),
    );
  }
  return root;
}

describe('ensure-packages (npm run demo on a fresh clone)', () => {
  const lock = {
    '': { name: 'lmsi' },
    'node_modules/zod': { version: '4.1.0' },
    'node_modules/@swc/core-darwin-arm64': { version: '1.0.0', optional: true },
    'node_modules/local': { link: true },
  };
  it('asks for npm ci when nothing is installed or a package is not at the lock’s version', () => {
    expect(mismatch(project(lock, null))).toBe('not installed');
    expect(mismatch(project(lock, { 'node_modules/zod': { version: '3.0.0' } }))).toBe(
      'node_modules/zod is not 4.1.0',
    );
    expect(mismatch(project(lock, {}))).toBe('node_modules/zod is not 4.1.0');
  });

  it('is satisfied when every required package is installed at its version (other platforms’ optional ones absent)', () => {
    expect(mismatch(project(lock, { 'node_modules/zod': { version: '4.1.0' } }))).toBeNull();
    expect(mismatch(path.resolve(__dirname, '../..'))).toBeNull();
  });
});
