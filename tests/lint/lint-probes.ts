import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');

/** A probe: code linted as if it were the named file of the repository. */
export type Probes = Record<string, [file: string, code: string]>;

// Each probe is linted by the project's real eslint.config.mjs through ESLint's Node API (lintText:
// nothing is written into the shared tree). The config is an ES module, which jest's sandbox cannot
// import, so one child Node process lints every probe; only the import rule runs, without type
// information (a file that does not exist cannot join the project).
const script = `
const { ESLint } = require('eslint');
(async () => {
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
    ruleFilter: ({ ruleId }) => ruleId === '@typescript-eslint/no-restricted-imports',
  });
  const probes = JSON.parse(process.argv[1]);
  const out = {};
  for (const [name, [file, code]] of Object.entries(probes)) {
    const [result] = await eslint.lintText(code, { filePath: file });
    out[name] = result.messages.map((m) => m.ruleId + ': ' + m.message);
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** The import rule's messages for each probe, by name. */
export function lintProbes(probes: Probes): Record<string, string[]> {
  const run = spawnSync(process.execPath, ['-e', script, JSON.stringify(probes)], {
    cwd: root,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`eslint probe run failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, string[]>;
}

/** What a probe's messages are when the import rule rejects it with a message matching `text`. */
export const restricted = (text: string) => [
  expect.stringMatching(new RegExp(`^@typescript-eslint/no-restricted-imports: .*${text}`)),
];
