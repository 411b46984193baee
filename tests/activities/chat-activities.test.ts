import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { makeFineTune } from '../../activities/fine-tune';
import { makeSamplePaths } from '../../activities/sample-shard';
import type { FineTuneInput, FineTuneResult, QuestionSamples, ShardInput, ShardResult } from '../../contract';
import { cudaUnavailableReason } from '../../engine/generate/provider';
import { loadChatTemplate, loadTokenizer } from '../../engine/tokenizer';
import { zeroShotCotPrompt } from '../../method/formats';
import { getTask } from '../../method/tasks';
import type { Question } from '../../method/types';
import { LocalArtifactStore } from '../../store';
import { oneStepTraining } from '../../testing/campaign-config';

/**
 * prompting.chatTemplate through the model activities, on a tiny Qwen2 checkpoint with a ChatML
 * template (tests/fixtures/hf-models/qwen2, made with transformers): sampling renders the prompt
 * with the template, fine-tuning trains the chat turns; an input without the mode keeps raw text.
 */

const QWEN2 = path.resolve(__dirname, '../fixtures/hf-models/qwen2');
const question: Question = {
  id: 'q1',
  text: 'Tom has 3 apples and buys 2 more. How many?',
  gold: null,
  source: { file: 'q.jsonl', line: 1 },
};

describe('model activities in chat turns', () => {
  let dir: string;
  let store: LocalArtifactStore;
  let modelRef: string;
  let datasetRef: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-chat-activities-'));
    store = new LocalArtifactStore(path.join(dir, 'artifacts'));
    modelRef = (await store.putTree(QWEN2)).ref;
    datasetRef = (await store.putJsonl([question])).ref;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const shard = (chatTemplate: 'auto' | 'none' | undefined): ShardInput => ({
    campaignId: 'chat',
    round: 1,
    shard: 0,
    datasetRef,
    start: 0,
    end: 1,
    modelRef,
    task: { name: 'gsm8k' },
    prompt: 'zero-shot-cot',
    exemplarsRef: null,
    sampling: {
      m: 2,
      temperature: 0.7,
      topK: 0,
      topP: 1,
      maxNewTokens: 6,
      stop: ['\n\n'],
      ...(chatTemplate === undefined ? {} : { chatTemplate }),
    },
    seed: 'chat/round-1/sample',
    executionProvider: 'cpu',
    allowCpuFallback: false,
  });

  async function sampledPrompt(chatTemplate: 'auto' | 'none' | undefined): Promise<string> {
    const samplePaths = makeSamplePaths({ store, cacheDir: path.join(dir, 'cache'), threads: 1 });
    const result = await new MockActivityEnvironment().run<[ShardInput], ShardResult, typeof samplePaths>(
      samplePaths,
      shard(chatTemplate),
    );
    expect(result.paths).toBe(2);
    const records: QuestionSamples[] = [];
    for await (const r of store.readJsonl<QuestionSamples>(result.ref)) records.push(r);
    return records[0].prompt;
  }

  it('samples from the prompt rendered with the chat template, and from raw text without it', async () => {
    const raw = zeroShotCotPrompt(getTask('gsm8k'), question);
    const tok = loadTokenizer(QWEN2);
    const template = loadChatTemplate(QWEN2, tok)!;
    expect(await sampledPrompt('auto')).toBe(
      template.generationPrompt(`Q: ${question.text}\nLet's think step by step.`),
    );
    expect(await sampledPrompt('none')).toBe(raw);
    // A campaign started before prompting.chatTemplate carries no mode: raw prompts, as it began.
    expect(await sampledPrompt(undefined)).toBe(raw);
  });

  it('fine-tunes on the chat turns', async () => {
    const examples = [
      { prompt: `Q: ${question.text}\nA:`, completion: ' He has 3 + 2 = 5. The answer is 5.' },
      { prompt: 'Q: What is 2 + 2?\nA:', completion: ' The answer is 4.' },
    ];
    const fineTune = makeFineTune({ store, cacheDir: path.join(dir, 'cache'), threads: 1 });
    const input: FineTuneInput = {
      campaignId: 'chat',
      round: 1,
      modelRef,
      trainingSetRef: (await store.putJsonl(examples)).ref,
      training: oneStepTraining,
      seed: 'chat/round-1/train',
      chatTemplate: 'auto',
    };
    const result = await new MockActivityEnvironment().run<[FineTuneInput], FineTuneResult, typeof fineTune>(
      fineTune,
      input,
    );
    expect(result.trained).toBe(true);
    expect(result.steps).toBe(1);
    // The template's tokens are in every row (each example's tokens but its last are inputs).
    const tok = loadTokenizer(QWEN2);
    const template = loadChatTemplate(QWEN2, tok)!;
    const chatTokens = examples
      .map((e) => template.turn(e.prompt.replace(/\nA:$/, ''), e.completion.trim()))
      .reduce((n, t) => n + tok.encode(t.prompt + t.completion).length - 1, 0);
    expect(result.tokensSeen).toBe(chatTokens);
  });

  it('trains on the execution provider the campaign names (model.executionProvider)', async () => {
    const fineTune = makeFineTune({ store, cacheDir: path.join(dir, 'cache-provider'), threads: 1 });
    const input: FineTuneInput = {
      campaignId: 'provider',
      round: 1,
      modelRef,
      trainingSetRef: (await store.putJsonl([{ prompt: 'Q: 1 + 1?\nA:', completion: ' 2.' }])).ref,
      training: { ...oneStepTraining, batchSize: 1 },
      seed: 'provider/round-1/train',
      executionProvider: 'cuda',
      allowCpuFallback: false,
    };
    const run = () =>
      new MockActivityEnvironment().run<[FineTuneInput], FineTuneResult, typeof fineTune>(fineTune, input);
    const reason = cudaUnavailableReason();
    if (reason === null) {
      // A GPU machine with the provider installed: it trains there.
      expect((await run()).trained).toBe(true);
      return;
    }
    // Retryable, as for sampling: another accelerator worker of the campaign may have the GPU.
    await expect(run()).rejects.toThrow(`execution provider cuda is unavailable: ${reason}`);
    input.allowCpuFallback = true;
    expect((await run()).trained).toBe(true);
  });
});
