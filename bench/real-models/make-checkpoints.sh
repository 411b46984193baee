#!/usr/bin/env bash
# Random-weight checkpoints with the published configurations of SmolLM2-135M, Qwen2.5-0.5B and
# Llama-3.2-1B under tmp/real-models/ (git-ignored), for `npm run bench:real-models`. Makes or reuses the
# pinned venv tmp/venv-hf (tests/fixtures/hf-models/make-fixtures.sh --venv-only: torch, transformers,
# tokenizers, safetensors by pip); a model folder already complete is kept.
#
#   bash bench/real-models/make-checkpoints.sh               # every model
#   bash bench/real-models/make-checkpoints.sh smollm2-135m  # only the named ones
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bash "$root/tests/fixtures/hf-models/make-fixtures.sh" --venv-only
"$root/tmp/venv-hf/bin/python" "$here/make_checkpoints.py" "$root/tmp/real-models" "$@"
