import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');

// Probe files are written into workflows/ itself (so the real config and the TypeScript project apply
// to them) and linted in one ESLint process: type-aware linting costs seconds per process.
const probes: Record<string, string> = {
  fs: `import * as fs from 'fs';\nexport const x = fs;\n`,
  nodeFs: `import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n`,
  engine: `import * as e from '../engine';\nexport const x = e;\n`,
  store: `import { LocalArtifactStore } from '../store';\nexport const x = LocalArtifactStore;\n`,
  activityValue: `import { createActivities } from '../activities';\nexport const x = createActivities;\n`,
  activityType: `import type { LmsiActivities } from '../activities';\nexport type A = LmsiActivities;\n`,
  contractType: `import type { LmsiActivities } from '../contract';\nexport type A = LmsiActivities;\n`,
  floating: `export async function f(p: Promise<void>): Promise<void> {\n  p.then(() => 1);\n}\n`,
};

let messages: Record<string, string[]> = {};

beforeAll(() => {
  const files = Object.keys(probes).map((name) =>
    path.join(root, 'workflows', `lint-probe-${process.pid}-${name}.ts`),
  );
  try {
    Object.values(probes).forEach((code, i) => writeFileSync(files[i], code));
    const run = spawnSync(path.join(root, 'node_modules/.bin/eslint'), ['--format', 'json', ...files], {
      cwd: root,
      encoding: 'utf8',
    });
    const results = JSON.parse(run.stdout) as {
      filePath: string;
      messages: { ruleId: string; message: string }[];
    }[];
    messages = Object.fromEntries(
      Object.keys(probes).map((name, i) => [
        name,
        results.find((r) => r.filePath === files[i])!.messages.map((m) => `${m.ruleId}: ${m.message}`),
      ]),
    );
  } finally {
    files.forEach((f) => rmSync(f, { force: true }));
  }
}, 120_000);

describe('workflow lint rules', () => {
  it('rejects Node built-ins in workflow files', () => {
    expect(messages.fs).toEqual([
      expect.stringMatching(/^@typescript-eslint\/no-restricted-imports: 'fs' import is restricted/),
    ]);
    expect(messages.nodeFs).toEqual([
      expect.stringMatching(/^@typescript-eslint\/no-restricted-imports: 'node:fs' import is restricted/),
    ]);
  });

  it('rejects the engine, the store and activities (types included)', () => {
    expect(messages.engine).toEqual([expect.stringContaining('must not import the engine')]);
    expect(messages.store).toEqual([
      expect.stringContaining('must not import the engine or the artifact store'),
    ]);
    expect(messages.activityValue).toEqual([expect.stringContaining('must not import activities/')]);
    expect(messages.activityType).toEqual([expect.stringContaining('must not import activities/')]);
  });

  it('allows the activity interfaces of contract/ and flags floating promises', () => {
    expect(messages.contractType).toEqual([]);
    expect(messages.floating).toEqual([expect.stringMatching(/^@typescript-eslint\/no-floating-promises/)]);
  });
});
