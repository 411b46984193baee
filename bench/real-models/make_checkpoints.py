"""Random-weight checkpoints with the published configurations of real models, for bench/real-models.

Run through make-checkpoints.sh (it makes or reuses the pinned venv). Each folder is what
save_pretrained writes for the published config.json (architecture, sizes, rope, tied head, dtype)
with random weights, plus a real BPE tokenizer: the 32 000-token Llama tokenizer of the shared ONNX
fixture. The models keep their published vocab_size, larger than that tokenizer (allowed: the sampler
never draws an id the tokenizer lacks). bos/eos ids are the tokenizer's, since the published ones
(151643, 128000, ...) name tokens this tokenizer does not have.

Weights are N(0, 0.02²) with norm gains 1 and zero biases, so activations stay small through 16-30
layers and sampling is numerically sane; the numbers measured are speed and memory, not accuracy.

    python make_checkpoints.py OUT_DIR [name ...]     # default: every model
"""

import json
import os
import shutil
import sys

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
TOKENIZER_DIR = os.path.join(ROOT, '..', 'shared', 'fixtures', 'onnx', 'ort-genai-tiny-random-LlamaForCausalLM-fp16')
TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']
BOS_ID, EOS_ID = 1, 2  # <s>, </s> of that tokenizer
WEIGHT_STD = 0.02
SEED = 18

# The published config.json values (HuggingFaceTB/SmolLM2-135M, Qwen/Qwen2.5-0.5B, meta-llama/Llama-3.2-1B),
# written out by hand; bos/eos are set to the tokenizer's above.
MODELS = {
    'smollm2-135m': dict(
        config_class=LlamaConfig,
        model_class=LlamaForCausalLM,
        published='HuggingFaceTB/SmolLM2-135M',
        config=dict(
            hidden_size=576,
            intermediate_size=1536,
            num_hidden_layers=30,
            num_attention_heads=9,
            num_key_value_heads=3,
            hidden_act='silu',
            max_position_embeddings=8192,
            initializer_range=0.041666666666666664,
            rms_norm_eps=1e-05,
            rope_theta=100000,
            rope_scaling=None,
            attention_bias=False,
            attention_dropout=0.0,
            mlp_bias=False,
            pretraining_tp=1,
            tie_word_embeddings=True,
            use_cache=True,
            vocab_size=49152,
        ),
        dtype=torch.bfloat16,
    ),
    'qwen2.5-0.5b': dict(
        config_class=Qwen2Config,
        model_class=Qwen2ForCausalLM,
        published='Qwen/Qwen2.5-0.5B',
        config=dict(
            hidden_size=896,
            intermediate_size=4864,
            num_hidden_layers=24,
            num_attention_heads=14,
            num_key_value_heads=2,
            hidden_act='silu',
            max_position_embeddings=32768,
            max_window_layers=24,
            initializer_range=0.02,
            rms_norm_eps=1e-06,
            rope_theta=1000000.0,
            rope_scaling=None,
            sliding_window=32768,
            use_sliding_window=False,
            attention_dropout=0.0,
            tie_word_embeddings=True,
            use_cache=True,
            vocab_size=151936,
        ),
        dtype=torch.bfloat16,
    ),
    'llama-3.2-1b': dict(
        config_class=LlamaConfig,
        model_class=LlamaForCausalLM,
        published='meta-llama/Llama-3.2-1B',
        config=dict(
            hidden_size=2048,
            intermediate_size=8192,
            num_hidden_layers=16,
            num_attention_heads=32,
            num_key_value_heads=8,
            head_dim=64,
            hidden_act='silu',
            max_position_embeddings=131072,
            initializer_range=0.02,
            rms_norm_eps=1e-05,
            rope_theta=500000.0,
            rope_scaling=dict(
                factor=32.0,
                high_freq_factor=4.0,
                low_freq_factor=1.0,
                original_max_position_embeddings=8192,
                rope_type='llama3',
            ),
            attention_bias=False,
            attention_dropout=0.0,
            mlp_bias=False,
            pretraining_tp=1,
            tie_word_embeddings=True,
            use_cache=True,
            vocab_size=128256,
        ),
        dtype=torch.bfloat16,
    ),
}


# The same weights as llama-3.2-1b (same seed) in 1 GB shards: lmsi reads a safetensors file with one
# readFileSync, which refuses files over 2 GiB, and the published Llama-3.2-1B is one 2.47 GB file.
MODELS['llama-3.2-1b-1gb-shards'] = dict(MODELS['llama-3.2-1b'], max_shard_size='1GB')


def make(name, out_root):
    spec = MODELS[name]
    folder = os.path.join(out_root, name)
    marker = os.path.join(folder, '.complete')
    if os.path.exists(marker):
        print(f'{name}: kept {folder}')
        return
    shutil.rmtree(folder, ignore_errors=True)
    config = spec['config_class'](bos_token_id=BOS_ID, eos_token_id=EOS_ID, **spec['config'])
    config.architectures = [spec['model_class'].__name__]
    torch.manual_seed(SEED)
    # Built directly in the published dtype: a 1B model in fp32 is 5 GB the machine may not spare.
    torch.set_default_dtype(spec['dtype'])
    try:
        model = spec['model_class'](config)
    finally:
        torch.set_default_dtype(torch.float32)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if 'norm' in pname:
                p.fill_(1.0)
            elif pname.endswith('.bias'):
                p.zero_()
            else:
                p.normal_(0.0, WEIGHT_STD)
    model.generation_config.bos_token_id = BOS_ID
    model.generation_config.eos_token_id = EOS_ID
    parameters = sum(p.numel() for p in model.parameters())
    tmp = folder + '.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True, **({'max_shard_size': spec['max_shard_size']} if 'max_shard_size' in spec else {}))
    for f in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(TOKENIZER_DIR, f), os.path.join(tmp, f))
    with open(os.path.join(tmp, 'bench-model.json'), 'w') as fh:
        json.dump(
            {
                'published': spec['published'],
                'maxShardSize': spec.get('max_shard_size'),
                'parameters': parameters,
                'weightStd': WEIGHT_STD,
                'seed': SEED,
                'tokenizer': os.path.basename(TOKENIZER_DIR),
                'transformers': transformers.__version__,
                'torch': torch.__version__,
            },
            fh,
            indent=2,
        )
    with open(os.path.join(tmp, '.complete'), 'w') as fh:
        fh.write('')
    os.rename(tmp, folder)
    print(f'{name}: {parameters / 1e6:.1f}M parameters -> {folder}')


def main():
    if len(sys.argv) < 2:
        sys.exit('usage: make_checkpoints.py OUT_DIR [name ...]')
    out_root = sys.argv[1]
    names = sys.argv[2:] or [n for n in MODELS if 'max_shard_size' not in MODELS[n]]
    for n in names:
        if n not in MODELS:
            sys.exit(f'unknown model {n}; known: {", ".join(MODELS)}')
    os.makedirs(out_root, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for n in names:
        make(n, out_root)


if __name__ == '__main__':
    main()
