/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { createBaseModel } from '../../../engine/checkpoint';
import { loadGenerationModel, releaseDecodeStepsSessions, releaseSessions } from '../../../engine/generate';
import { decodeStepsSession } from '../../../engine/generate/decode-steps';
import { NO_TRUNCATIONS } from '../../../engine/model/draw-in-graph';

// The one-step decoder and the k-step decode graphs share one session cache: loading again reuses a
// session, and releasing frees the sessions of both graphs.
let dir: string;
beforeAll(() => {
  dir = createBaseModel({
    config: { vocabSize: 96, dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 32, maxSeqLen: 32 },
    seed: 3,
    dir: path.join(mkdtempSync(path.join(os.tmpdir(), 'lmsi-session-cache-')), 'model'),
  });
});
afterAll(() => releaseSessions());

const spyRelease = (s: InferenceSession) => jest.spyOn(s, 'release');

describe('the session cache', () => {
  it('reuses the decoder and decode-steps sessions per graph, k, top-k and threads', async () => {
    const model = await loadGenerationModel(dir, { threads: 1 });
    expect((await loadGenerationModel(dir, { threads: 1 })).session).toBe(model.session);
    expect((await loadGenerationModel(dir, { threads: 2 })).session).not.toBe(model.session);

    const steps4 = await decodeStepsSession(model, 4, NO_TRUNCATIONS);
    expect(await decodeStepsSession(model, 4, NO_TRUNCATIONS)).toBe(steps4);
    expect(steps4).not.toBe(model.session);
    expect(await decodeStepsSession(model, 8, NO_TRUNCATIONS)).not.toBe(steps4);
    expect(await decodeStepsSession(model, 4, { ...NO_TRUNCATIONS, topK: true })).not.toBe(steps4);
  });

  it('releaseDecodeStepsSessions frees the k-step graphs only; releaseSessions frees both', async () => {
    const model = await loadGenerationModel(dir, { threads: 1 });
    const steps = await decodeStepsSession(model, 4, NO_TRUNCATIONS);
    const decoderRelease = spyRelease(model.session);
    const stepsRelease = spyRelease(steps);

    await releaseDecodeStepsSessions();
    expect(stepsRelease).toHaveBeenCalledTimes(1);
    expect(decoderRelease).not.toHaveBeenCalled();
    expect((await loadGenerationModel(dir, { threads: 1 })).session).toBe(model.session);
    const stepsAgain = await decodeStepsSession(model, 4, NO_TRUNCATIONS);
    expect(stepsAgain).not.toBe(steps);

    const againRelease = spyRelease(stepsAgain);
    await releaseSessions();
    expect(decoderRelease).toHaveBeenCalledTimes(1);
    expect(againRelease).toHaveBeenCalledTimes(1);
    expect((await loadGenerationModel(dir, { threads: 1 })).session).not.toBe(model.session);
  });
});
