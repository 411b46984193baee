import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
// Inside the repo (git-ignored tmp/), so the compiled code resolves node_modules like dist/ does.
const outDir = path.join(root, 'tmp', `build-check-${process.pid}`);

beforeAll(() => {
  execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--outDir', outDir], {
    cwd: root,
    stdio: 'pipe',
  });
}, 180_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('the built package (npm run build)', () => {
  it('exports the library layers from its main entry', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const lmsi = require(path.join(outDir, 'index.js'));
    expect(Object.keys(lmsi).sort()).toEqual(['client', 'config', 'engine', 'method', 'store']);
    const gsm8k = lmsi.method.getTask('gsm8k');
    expect(gsm8k.normalize(gsm8k.extractAnswer('... The answer is $1,234.'))).toBe('1234');
    expect(typeof lmsi.method.majorityVote).toBe('function');
    expect(typeof lmsi.store.LocalArtifactStore).toBe('function');
  });

  it('runs the lmsi bin', () => {
    const run = spawnSync(process.execPath, [path.join(outDir, 'cli/main.js'), '--help'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Usage: lmsi');
    expect(run.stdout).toContain('config');
  });
});
