import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadGenerationModel } from '../../../engine/generate';
import { eosIdsFromGenerationConfig } from '../../../engine/generate/model-config';
import { loadTokenizer } from '../../../engine/tokenizer';

const LLAMA3 = path.resolve(__dirname, '../../fixtures/hf-models/llama3-rope');

describe('end of sequence from generation_config.json', () => {
  it("stops on every id of generation_config's eos_token_id list (Llama 3: <|end_of_text|> and <|eot_id|>)", async () => {
    const tok = loadTokenizer(LLAMA3);
    const endOfText = tok.tokenizer.token_to_id('<|end_of_text|>')!;
    const eot = tok.tokenizer.token_to_id('<|eot_id|>')!;
    expect(eosIdsFromGenerationConfig(LLAMA3).sort()).toEqual([endOfText, eot].sort());
    const model = await loadGenerationModel(LLAMA3);
    expect(model.eosIds).toEqual(expect.arrayContaining([endOfText, eot]));
  });

  it('reads nothing from a folder without the file, and names the file and field when it is wrong', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-gencfg-'));
    expect(eosIdsFromGenerationConfig(dir)).toEqual([]);
    cpSync(path.join(LLAMA3, 'config.json'), path.join(dir, 'config.json'));
    writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: ['<eot>'] }));
    expect(() => eosIdsFromGenerationConfig(dir)).toThrow(
      `${path.join(dir, 'generation_config.json')}: eos_token_id`,
    );
  });
});
