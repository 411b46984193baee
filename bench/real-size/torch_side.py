"""The PyTorch side of bench/real-size (run by bench/real-size/run.ts in tmp/venv-hf, never by CI).

    python torch_side.py sample   '{"model": DIR, "prompts": [...], "n": 16, "maxNewTokens": 32,
                                    "temperature": 0.7, "threads": 2, "reps": 2, "warmup": 1}' OUT.json
    python torch_side.py finetune '{"model": DIR, "data": FILE, "method": "full"|"lora", "batchSize": 4,
                                    "seqLen": 256, "steps": 4, "threads": 2}' OUT.json

sample: Hugging Face transformers' `generate` with sampling (top_k 0: the whole vocabulary, as lmsi's
sampler is run), num_return_sequences = n per prompt, in float32 like lmsi's CPU graphs. New tokens are
counted as lmsi counts them: up to and including the first eos, else all of them.

finetune: one training step is forward, backward and AdamW (lr 1e-4) on a batch of `batchSize` rows of
`seqLen` tokens (the data's prompt + completion, tokenized by the checkpoint's tokenizer, concatenated
with eos between and cut into rows: the same token count per step as lmsi's packed rows). `lora` wraps the
model with PEFT: rank 8, alpha 16, no dropout, every projection (lmsi's defaults). The first step is
reported apart (allocation, warm-up); peak RSS is measured by the parent from /proc.
"""

import json
import resource
import sys
import time


def peak_rss_gb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 2)


def load(model_dir, threads):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    t = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    return torch, tokenizer, model, round(time.perf_counter() - t, 2)


def eos_ids(model, tokenizer):
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def sample(a):
    torch, tokenizer, model, load_seconds = load(a["model"], a["threads"])
    model.eval()
    eos = eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(eos))
    torch.manual_seed(1)

    def once():
        tokens = 0
        t = time.perf_counter()
        for prompt in a["prompts"]:
            inputs = tokenizer(prompt, return_tensors="pt")
            with torch.inference_mode():
                out = model.generate(
                    **inputs,
                    do_sample=True,
                    temperature=a["temperature"],
                    top_k=0,
                    top_p=1.0,
                    num_return_sequences=a["n"],
                    max_new_tokens=a["maxNewTokens"],
                    pad_token_id=pad,
                )
            width = inputs["input_ids"].shape[1]
            for row in out[:, width:].tolist():
                end = next((i for i, t in enumerate(row) if t in eos), None)
                tokens += len(row) if end is None else end + 1
        s = time.perf_counter() - t
        return {"newTokens": tokens, "seconds": round(s, 2), "tokensPerSecond": round(tokens / s, 2)}

    for _ in range(a.get("warmup", 0)):
        once()
    reps = [once() for _ in range(a.get("reps", 1))]
    return {"loadSeconds": load_seconds, "paths": a["n"] * len(a["prompts"]), "reps": reps}


def finetune(a):
    torch, tokenizer, model, load_seconds = load(a["model"], a["threads"])
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    stream = []
    with open(a["data"]) as f:
        for line in f:
            if line.strip():
                ex = json.loads(line)
                stream += tokenizer(ex["prompt"] + ex["completion"])["input_ids"] + [eos]
    b, t = a["batchSize"], a["seqLen"]
    rows = [stream[i : i + t] for i in range(0, len(stream) - t + 1, t)]
    if len(rows) < b:
        raise ValueError(f"{a['data']}: {len(rows)} rows of {t} tokens, fewer than a batch of {b}")
    if a["method"] == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=8,
                lora_alpha=16,
                lora_dropout=0.0,
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                task_type="CAUSAL_LM",
            ),
        )
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.0)
    marks = [time.perf_counter()]
    losses = []
    for step in range(a["steps"]):
        batch = [rows[(step * b + i) % len(rows)] for i in range(b)]
        ids = torch.tensor(batch, dtype=torch.long)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 4))
        marks.append(time.perf_counter())
    steps = [round(marks[i + 1] - marks[i], 2) for i in range(len(marks) - 1)]
    return {
        "method": a["method"],
        "loadSeconds": load_seconds,
        "trainableParameters": sum(p.numel() for p in trainable),
        "batchSize": b,
        "seqLen": t,
        "steps": a["steps"],
        "firstStepSeconds": steps[0],
        "stepSeconds": steps[1:],
        "losses": losses,
        "selfPeakRssGB": peak_rss_gb(),
    }


def main():
    mode, args, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    try:
        result = {"sample": sample, "finetune": finetune}[mode](args)
        import torch
        import transformers

        versions = {"torch": torch.__version__, "transformers": transformers.__version__}
        if mode == "finetune" and args["method"] == "lora":
            import peft

            versions["peft"] = peft.__version__
        result = {"ok": True, "versions": versions, **result}
    except Exception as e:  # written for the parent, then raised
        with open(out, "w") as f:
            json.dump({"ok": False, "error": f"{type(e).__name__}: {e}"}, f)
        raise
    with open(out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
