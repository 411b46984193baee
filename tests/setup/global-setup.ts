import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { lmsiSearchAttributeKeys } from '../../workflows/search-attributes';

/**
 * One real `temporal server start-dev` per jest run, on a free port, shared by all suites. The binary
 * is the one `infra/temporal/install` built into .tools/ — never the SDK's download path, which would
 * need the network.
 */
export default async function globalSetup(): Promise<void> {
  const root = path.resolve(__dirname, '../..');
  const executable = process.env.LMSI_TEMPORAL_BIN ?? path.join(root, '.tools/bin/temporal');
  if (!existsSync(executable)) {
    throw new Error(`Temporal CLI not found at ${executable}: run \`npm run temporal:install\` first`);
  }
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: executable },
      ip: '127.0.0.1',
      searchAttributes: lmsiSearchAttributeKeys,
      log: { format: 'pretty', level: 'warn' },
    },
  });
  (globalThis as Record<string, unknown>).__LMSI_TEMPORAL_ENV__ = env;
  // Test files run in worker processes spawned after this: they inherit the address from the env.
  process.env.LMSI_TEST_TEMPORAL_ADDRESS = env.address;
  // The pretrained tiny model (cached under tmp/) is built here, once, before any suite: on a fresh
  // clone the first test that needs it would otherwise spend its own timeout training it.
  const { pretrainedTinyModel } = await import('../../testing/tiny-model');
  await pretrainedTinyModel();
}
