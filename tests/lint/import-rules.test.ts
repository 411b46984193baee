import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Probes, lintProbes, restricted } from './lint-probes';

const root = path.resolve(__dirname, '../..');

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { importCircles } = require('../../infra/lint/import-circles.js') as {
  importCircles: (dir: string, options?: { tsConfig?: string }) => Promise<string[][]>;
};

// Probes linted as if they were the named files (lint-probes.ts says how).
const probes: Probes = {
  activitiesToWorkflows: [
    'activities/lint-probe.ts',
    `import { LIGHT } from '../workflows/presets';\nexport const x = LIGHT;\n`,
  ],
  activitiesToWorkflowTypes: [
    'activities/lint-probe.ts',
    `import type { selfImprovementRound } from '../workflows/round';\nexport type R = typeof selfImprovementRound;\n`,
  ],
  reportToActivities: [
    'report/lint-probe.ts',
    `import type { ActivityDeps } from '../activities';\nexport type D = ActivityDeps;\n`,
  ],
  reportToActivityFile: [
    'report/lint-probe.ts',
    `import { toSampledPath } from '../activities/records';\nexport const x = toSampledPath;\n`,
  ],
  reportToWorkflows: [
    'report/lint-probe.ts',
    `import { LIGHT } from '../workflows/presets';\nexport const x = LIGHT;\n`,
  ],
  workflowsToActivityTypes: [
    'workflows/lint-probe.ts',
    `import type { LmsiActivities } from '../activities';\nexport type A = LmsiActivities;\n`,
  ],
  contractToActivities: [
    'contract/lint-probe.ts',
    `import type { ActivityDeps } from '../activities/deps';\nexport type D = ActivityDeps;\n`,
  ],
  contractToNode: ['contract/lint-probe.ts', `import * as fs from 'node:fs';\nexport const x = fs;\n`],
  // Right imports: every layer reads the values that cross Temporal from contract/.
  activitiesToContract: [
    'activities/lint-probe.ts',
    `import { FailureType, type ShardResult } from '../contract';\nexport const x: [typeof FailureType, ShardResult | null] = [FailureType, null];\n`,
  ],
  reportToContract: [
    'report/lint-probe.ts',
    `import type { RoundResult } from '../contract';\nexport type R = RoundResult;\n`,
  ],
  workflowsToContract: [
    'workflows/lint-probe.ts',
    `import type { LightActivities } from '../contract';\nexport type L = LightActivities;\n`,
  ],
  contractToMethod: [
    'contract/lint-probe.ts',
    `import type { DropReason } from '../method/filter';\nexport type D = DropReason;\n`,
  ],
};

let messages: Record<string, string[]> = {};

beforeAll(() => {
  messages = lintProbes(probes);
}, 60_000);

describe('layer lint rules around contract/', () => {
  it('rejects activities → workflows, values and types alike', () => {
    expect(messages.activitiesToWorkflows).toEqual(restricted('activities/ must not import workflows/'));
    expect(messages.activitiesToWorkflowTypes).toEqual(restricted('activities/ must not import workflows/'));
  });

  it('rejects report → activities (the index or a file, types included) and report → workflows', () => {
    for (const probe of ['reportToActivities', 'reportToActivityFile', 'reportToWorkflows']) {
      expect(messages[probe]).toEqual(restricted('report/ reads the store through contract/'));
    }
  });

  it('rejects workflows → activities even as types, and contract/ → the layers above it or Node', () => {
    expect(messages.workflowsToActivityTypes).toEqual(restricted('the activity interfaces are in contract/'));
    expect(messages.contractToActivities).toEqual(restricted('contract/ is the bottom layer'));
    expect(messages.contractToNode).toEqual(restricted('contract/ is imported by workflow code'));
  });

  it('accepts contract/ from every layer, and the method library from contract/', () => {
    for (const probe of [
      'activitiesToContract',
      'reportToContract',
      'workflowsToContract',
      'contractToMethod',
    ]) {
      expect(messages[probe]).toEqual([]);
    }
  });
});

describe('the import-circle check of npm run lint (infra/lint/import-circles.js)', () => {
  it('finds a deliberate circle, type-only imports included', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-import-circles-'));
    try {
      mkdirSync(path.join(dir, 'a'));
      mkdirSync(path.join(dir, 'b'));
      writeFileSync(
        path.join(dir, 'a/types.ts'),
        `import type { B } from '../b/value';\nexport interface A { b: B }\n`,
      );
      writeFileSync(
        path.join(dir, 'b/value.ts'),
        `import type { A } from '../a/types';\nexport interface B { a?: A }\n`,
      );
      writeFileSync(path.join(dir, 'c.ts'), `import type { A } from './a/types';\nexport type C = A;\n`);
      expect(await importCircles(dir)).toEqual([['a/types.ts', 'b/value.ts']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds none in the project', async () => {
    expect(await importCircles(root, { tsConfig: path.join(root, 'tsconfig.json') })).toEqual([]);
  }, 120_000);
});
