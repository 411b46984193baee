import { TrainingConfig } from '../../config/campaign';
import { engineTrainingConfig, withTrainingFlags } from '../../config/engine-training';
import { FineTuneConfig } from '../../engine/train/config';
import { parsedTraining } from '../../testing/campaign-config';
import { trainingForRound } from '../../workflows/round-rules';

// The campaign's training section, every field away from its default, and the engine's name for each.
const section = {
  steps: 12,
  learningRate: 2e-4,
  batchSize: 3,
  gradientAccumulation: 2,
  warmupSteps: 5,
  weightDecay: 0.01,
  checkpointEvery: 4,
  replayRatio: 0.5,
  packing: 'next-fit',
  maxSeqLen: 192,
  method: 'lora',
  lora: { rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q', 'v'] },
  recompute: true,
  fromRound: { '2': { epochs: 2 } },
};
const engineName: Record<string, string> = { maxSeqLen: 'seqLen' };
// A campaign's, not one fine-tuning run's: fromRound picks a round's settings (trainingForRound),
// replayRatio builds its training set.
const campaignOnly = ['fromRound', 'replayRatio'];
// Set instead of steps (one of the two): round 2's override below.
const instead = ['epochs'];

describe('engineTrainingConfig', () => {
  it("carries every field of a round's training section to the engine's config", () => {
    const { replayRatio: _, ...round1 } = trainingForRound(parsedTraining(section), 1);
    const engine = FineTuneConfig.parse(engineTrainingConfig(round1, { seed: 'c1/round-1' }));
    // A field added to the section fails here until the mapping (or campaignOnly) names it.
    const fields = Object.keys(TrainingConfig.shape).filter(
      (k) => !campaignOnly.includes(k) && !instead.includes(k),
    );
    expect(fields.sort()).toEqual(
      Object.keys(section)
        .filter((k) => !campaignOnly.includes(k))
        .sort(),
    );
    for (const field of fields) {
      const value = (section as Record<string, unknown>)[field];
      expect([field, engine[(engineName[field] ?? field) as keyof FineTuneConfig]]).toEqual([
        field,
        field === 'lora' ? { ...(value as object), targetModules: ['q', 'v'] } : value,
      ]);
    }
    expect(engine.seed).toBe('c1/round-1');
    expect(engine.loss).toBe('sft');
  });

  it("takes a later round's overrides, and a policy update's GRPO options", () => {
    const { replayRatio: _, ...round2 } = trainingForRound(parsedTraining(section), 2);
    const grpo = { clipEpsilon: 0.3, klBeta: 0, temperature: 0.9 };
    const engine = FineTuneConfig.parse(engineTrainingConfig(round2, { seed: 's', grpo }));
    expect(engine.epochs).toBe(2);
    expect(engine.steps).toBeUndefined();
    expect(engine.loss).toBe('grpo');
    expect(engine.grpo).toEqual(grpo);
  });

  it("leaves absent settings to the engine's defaults: packing of a campaign from before the field is next-fit", () => {
    const { packing: _p, replayRatio: _r, ...old } = trainingForRound(TrainingConfig.parse({ epochs: 1 }), 1);
    const engine = FineTuneConfig.parse(engineTrainingConfig(old, { seed: 1 }));
    expect(engine.packing).toBe(true);
    expect(engine.method).toBe('full');
    expect(engine.seqLen).toBeUndefined();
    expect(engine.recompute).toBe(false);
    expect(FineTuneConfig.parse(engineTrainingConfig({ ...old, packing: 'none' }, { seed: 1 })).packing).toBe(
      false,
    );
  });

  it("lets lmsi finetune's flags override the config's section", () => {
    const base = TrainingConfig.parse(section);
    // The flags the engine takes under the same name and value.
    const same = {
      epochs: 3,
      learningRate: 1e-3,
      batchSize: 8,
      gradientAccumulation: 1,
      warmupSteps: 0,
      weightDecay: 0,
      checkpointEvery: 50,
      recompute: false,
    };
    const t = TrainingConfig.parse(
      withTrainingFlags(base, {
        ...same,
        packing: 'none',
        lora: { rank: 16, targetModules: ['k', 'q'] },
      }),
    );
    const engine = FineTuneConfig.parse(engineTrainingConfig(t, { seed: 'finetune', seqLen: 64 }));
    expect(engine).toMatchObject({
      ...same,
      packing: false,
      seqLen: 64,
      method: 'lora',
      // The section's alpha and dropout stay; the flags' rank and modules replace its own.
      lora: { rank: 16, alpha: 8, dropout: 0.1, targetModules: ['q', 'k'] },
      seed: 'finetune',
    });
    expect(engine.steps).toBeUndefined();
    // Without flags the section stands, its maxSeqLen included; neither epochs nor steps: one epoch.
    const plain = TrainingConfig.parse(withTrainingFlags(base, {}));
    expect(FineTuneConfig.parse(engineTrainingConfig(plain, { seed: 's' }))).toMatchObject({
      steps: 12,
      seqLen: 192,
    });
    const none = TrainingConfig.parse(withTrainingFlags({}, { steps: undefined }));
    expect(none.epochs).toBe(1);
    expect(withTrainingFlags(base, { steps: 2 })).not.toHaveProperty('fromRound');
  });
});
