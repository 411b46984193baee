import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import { snapshotDataset } from '../../client';
import { keyringFromEnv, lmsiDataConverter } from '../../client/codec';
import { connectTestTemporal, tempDir, testServerAddress, type TestTemporal } from '../helpers/temporal';
import { uniqueTaskQueue } from '../../testing/campaign-config';
import { startWorkerProcess, writeWorkflowBundle } from '../../testing/worker-process';

// What a worker writes to its log at the most verbose level, for a good and a bad dataset, with
// encryption on: no dataset text and no key.
let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  await temporal.close();
});

describe('log hygiene', () => {
  it('worker logs at DEBUG carry no dataset text and no secret', async () => {
    const root = await tempDir('logs');
    const secretKey = randomBytes(32).toString('base64');
    const env = { LMSI_CODEC_KEY: secretKey, LMSI_CODEC_KEY_ID: 'log-test' };
    const questions = [
      'zed has 9 marbles. zed loses 2 marbles. how many marbles does zed have now?',
      'uma has 4 pens. uma buys 5 more pens. how many pens does uma have now?',
    ];
    const good = path.join(root, 'good.jsonl');
    await fs.writeFile(
      good,
      questions.map((q, i) => JSON.stringify({ id: `q-${i}`, question: q })).join('\n') + '\n',
    );
    // Line 2 is not JSON: V8's message would quote it.
    const badFile = path.join(root, 'bad.jsonl');
    await fs.writeFile(
      badFile,
      `${JSON.stringify({ id: 'q-0', question: questions[0] })}\n${questions[1]}\n`,
    );

    const light = uniqueTaskQueue('logs');
    const logFile = path.join(root, 'worker.log');
    const worker = await startWorkerProcess({
      address: testServerAddress(),
      lightQueue: light,
      acceleratorQueue: uniqueTaskQueue('logs-accel'),
      artifactsDir: path.join(root, 'artifacts'),
      workflowCodePath: await writeWorkflowBundle(
        root,
        lmsiDataConverter(keyringFromEnv(env))?.failureConverterPath,
      ),
      logFile,
      logLevel: 'DEBUG',
      env,
    });
    try {
      const client = new Client({
        connection: temporal.client.connection,
        dataConverter: lmsiDataConverter(keyringFromEnv(env)),
      });
      const run = (file: string) =>
        snapshotDataset(
          client,
          { task: 'arith', file },
          { taskQueue: light, workflowId: `logs-${path.basename(file)}-${Date.now()}` },
        );
      expect((await run(good)).count).toBe(2);
      const failure = await run(badFile).then(
        () => null,
        (e: unknown) => e as Error,
      );
      const message = ((failure?.cause as Error | undefined)?.cause as Error | undefined)?.message ?? '';
      expect(message).toMatch(new RegExp(`^${badFile}:2: \\(json\\): not valid JSON`));
      expect(message).not.toContain('marbles');
      expect(message).not.toContain('pens');
    } finally {
      await worker.stop();
    }
    const log = await fs.readFile(logFile, 'utf8');
    expect(log).toMatch(/DEBUG|INFO/); // the worker did log at the verbose level
    for (const q of questions) {
      for (const fragment of [q, q.slice(0, 9)]) expect(log).not.toContain(fragment);
    }
    expect(log).not.toContain(secretKey);
    expect(log).not.toContain(Buffer.from(secretKey, 'base64').toString('hex').slice(0, 16));
    expect(log).not.toContain('<Buffer');
  });
});
