import { type Probes, lintProbes, restricted } from './lint-probes';

// Probes linted as if they were the named files (lint-probes.ts says how).
const probes: Probes = {
  engineToMethod: [
    'engine/train/lint-probe.ts',
    `import { Rng } from '../../method/rng';\nexport const x = Rng;\n`,
  ],
  engineToMethodIndex: [
    'engine/lint-probe.ts',
    `import { majorityVote } from '../method';\nexport const x = majorityVote;\n`,
  ],
  engineToWorkflows: [
    'engine/generate/lint-probe.ts',
    `import * as w from '../../workflows';\nexport const x = w;\n`,
  ],
  engineToActivities: [
    'engine/lint-probe.ts',
    `import type { LmsiActivities } from '../activities';\nexport type A = LmsiActivities;\n`,
  ],
  engineToClient: [
    'engine/checkpoint/lint-probe.ts',
    `import * as c from '../../client';\nexport const x = c;\n`,
  ],
  engineToTemporal: [
    'engine/lint-probe.ts',
    `import { Connection } from '@temporalio/client';\nexport const x = Connection;\n`,
  ],
  methodToEngine: [
    'method/tasks/lint-probe.ts',
    `import { Tokenizer } from '../../engine/tokenizer';\nexport const x = Tokenizer;\n`,
  ],
  methodToOnnx: ['method/lint-probe.ts', `import * as ort from 'onnxruntime-node';\nexport const x = ort;\n`],
  baseToMethod: [
    'base/lint-probe.ts',
    `import { majorityVote } from '../method/vote';\nexport const x = majorityVote;\n`,
  ],
  // Right imports: the shared base, and an engine file of the same name as a product folder.
  engineToBase: [
    'engine/train/lint-probe.ts',
    `import { Rng } from '../../base/rng';\nexport const x = Rng;\n`,
  ],
  engineInternal: [
    'engine/train/lint-probe.ts',
    `import * as m from '../model/config';\nimport * as t from './config';\nexport const x = [m, t];\n`,
  ],
  methodToBase: [
    'method/tasks/lint-probe.ts',
    `import { BadInputError } from '../../base';\nexport const x = BadInputError;\n`,
  ],
  // The demo, the benchmarks and testing/.
  benchToTests: [
    'bench/lint-probe.ts',
    `import { tempDir } from '../tests/helpers/temporal';\nexport const x = tempDir;\n`,
  ],
  benchDeepToTests: [
    'bench/real-models/lint-probe.ts',
    `import * as h from '../../tests/helpers/campaign';\nexport const x = h;\n`,
  ],
  demoToBench: [
    'demo/lint-probe.ts',
    `import { median } from '../bench/machine';\nexport const x = median;\n`,
  ],
  demoToCli: [
    'demo/lint-probe.ts',
    `import { initModel } from '../cli/model-init-command';\nexport const x = initModel;\n`,
  ],
  testingToTests: [
    'testing/lint-probe.ts',
    `import * as t from '../tests/helpers/temporal';\nexport const x = t;\n`,
  ],
  demoToStatusView: [
    'demo/lint-probe.ts',
    `import { statusTable } from '../cli/status-view';\nexport const x = statusTable;\n`,
  ],
  benchToTesting: [
    'bench/lint-probe.ts',
    `import { devServer } from '../testing/dev-server';\nexport const x = devServer;\n`,
  ],
  demoToEmbedded: [
    'demo/lint-probe.ts',
    `import { DEMO_RECIPE } from '../embedded';\nexport const x = DEMO_RECIPE;\n`,
  ],
};

let messages: Record<string, string[]> = {};

beforeAll(() => {
  messages = lintProbes(probes);
}, 60_000);

describe('library lint rules (engine/, method/, base/)', () => {
  it('rejects engine → method, either way it is spelled', () => {
    expect(messages.engineToMethod).toEqual(restricted('engine/ must not import method/'));
    expect(messages.engineToMethodIndex).toEqual(restricted('engine/ must not import method/'));
  });

  it('rejects engine → workflows, activities (even as types), client and Temporal', () => {
    for (const probe of ['engineToWorkflows', 'engineToActivities', 'engineToClient', 'engineToTemporal']) {
      expect(messages[probe]).toEqual(restricted('engine/ is a library: it knows nothing of Temporal'));
    }
  });

  it('rejects method → engine and method → ONNX, and base → either library', () => {
    expect(messages.methodToEngine).toEqual(restricted('method/ must not import engine/'));
    expect(messages.methodToOnnx).toEqual(restricted('ONNX belongs to engine/'));
    expect(messages.baseToMethod).toEqual(restricted('base/ must not import method/'));
  });

  it('accepts the shared base and the engine’s own files', () => {
    expect(messages.engineToBase).toEqual([]);
    expect(messages.engineInternal).toEqual([]);
    expect(messages.methodToBase).toEqual([]);
  });
});

describe('harness lint rules (demo/, bench/, testing/)', () => {
  it('rejects bench → tests at any depth, demo → bench, demo → cli internals, testing → tests', () => {
    expect(messages.benchToTests).toEqual(restricted('bench/ must not import tests/'));
    expect(messages.benchDeepToTests).toEqual(restricted('bench/ must not import tests/'));
    expect(messages.demoToBench).toEqual(restricted('demo/ must not import tests/ or bench/'));
    expect(messages.demoToCli).toEqual(restricted("demo/ uses the product's public modules"));
    expect(messages.testingToTests).toEqual(
      restricted('testing/ is what tests, benchmarks and the demo share'),
    );
  });

  it('accepts the CLI’s status view from demo/, testing/ from bench/, and the product', () => {
    expect(messages.demoToStatusView).toEqual([]);
    expect(messages.benchToTesting).toEqual([]);
    expect(messages.demoToEmbedded).toEqual([]);
  });
});
