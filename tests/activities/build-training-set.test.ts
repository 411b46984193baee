import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeBuildTrainingSet } from '../../activities/build-training-set';
import type { TrainingRecord } from '../../contract';
import { chooseReplay } from '../../method/replay';
import type { AnsweredPath } from '../../method/vote';
import type { Question } from '../../method/types';
import { LocalArtifactStore } from '../../store';

// buildTrainingSet's replay goes through chooseReplay: the examples it appends are exactly the
// chosen seed examples, in pool order, marked 'replay', after the mixed-format examples.
describe('buildTrainingSet replays seed examples by chooseReplay', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-replay-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('appends ratio × self-generated seed examples, the ones chooseReplay picks', async () => {
    const store = new LocalArtifactStore(dir);
    const questions: Question[] = Array.from({ length: 6 }, (_, i) => ({
      id: `q${i}`,
      text: `ann has ${i} apples, buys 2. how many now?`,
      gold: null,
      source: { file: 'pool.jsonl', line: i + 1 },
    }));
    const kept: AnsweredPath[] = questions.map((q, i) => ({
      questionId: q.id,
      pathIndex: 0,
      text: ` buys 2: ${i}+2=${i + 2}. The answer is ${i + 2}.`,
      sumLogprob: -1,
      finishReason: 'stop',
      stated: String(i + 2),
      answer: String(i + 2),
    }));
    const pool = Array.from({ length: 20 }, (_, i) => ({ prompt: `Q: seed ${i}\nA:`, completion: ` ${i}.` }));
    const build = makeBuildTrainingSet({ store, cacheDir: path.join(dir, 'cache') });
    const result = await build({
      keptRef: (await store.putJsonl(kept)).ref,
      datasetRef: (await store.putJsonl(questions)).ref,
      exemplarsRef: null,
      formats: ['zero-shot-cot', 'zero-shot-direct'],
      task: { name: 'arith' },
      seed: 'campaign/round-1',
      replayRef: (await store.putJsonl(pool)).ref,
      replayRatio: 0.5,
    });
    const records: TrainingRecord[] = [];
    for await (const r of store.readJsonl<TrainingRecord>(result.ref)) records.push(r);
    const chosen = chooseReplay(20, 12, 0.5, 'campaign/round-1');
    expect(result).toMatchObject({ examples: 18, replayed: 6 });
    expect(result.perFormat).toEqual({ 'zero-shot-cot': 6, 'zero-shot-direct': 6, replay: 6 });
    const replayed = records.slice(12);
    expect(replayed.map((r) => r.format)).toEqual(Array(6).fill('replay'));
    expect(replayed.map((r) => ({ prompt: r.prompt, completion: r.completion }))).toEqual(
      chosen.map((i) => pool[i]),
    );
    expect(replayed.map((r) => r.questionId)).toEqual(chosen.map((i) => `replay:${i}`));
  });
});
