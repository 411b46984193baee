import { readFileSync } from 'node:fs';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { danglingOptional } = require('../../infra/npm/prune-lock.js') as {
  danglingOptional: (lock: unknown) => { where: string; name: string }[];
};

describe('package-lock.json', () => {
  it('names no optional dependency it has no entry for (else `npm ci` fails: run `npm run lock:prune`)', () => {
    const lock = JSON.parse(readFileSync(path.resolve(__dirname, '../../package-lock.json'), 'utf8'));
    expect(danglingOptional(lock)).toEqual([]);
  });
});
