import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../helpers/temporal';

/**
 * Determinism guard: every committed history must replay against today's workflow code. A change
 * that would break running workflows fails here; make it with `patched()` and record a new history.
 */
const dir = path.resolve(__dirname, '../histories');
const histories = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('committed workflow histories replay', () => {
  it('has histories to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  it.each(histories)('%s', async (file) => {
    const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
  });
});
