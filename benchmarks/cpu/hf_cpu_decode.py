#!/usr/bin/env python3
"""The peer for quantc's CPU decode benchmark: HF transformers on the CPU.

Same shapes as `quant-bench decode`: B random prompts of P tokens, then N
greedy tokens with the KV cache (generate). Prints prefill and decode
tokens/s, best of R runs, for the given torch thread count.

usage: hf_cpu_decode.py MODEL_DIR --batch B --prompt-len P --new-tokens N
                        --threads T [--dtype float32|bfloat16] [--repeat R]
                        [--random-init]
--random-init builds the model from MODEL_DIR/config.json with random
weights (the benchmarks' shape models carry none).
"""
import argparse
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--random-init", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    if a.random_init:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(
            AutoConfig.from_pretrained(a.model), dtype=dtype).eval()
    else:
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=dtype).eval()
    g = torch.Generator().manual_seed(1234)

    def generate(ids, new):
        return model.generate(ids, do_sample=False, max_new_tokens=new,
                              min_new_tokens=new, eos_token_id=None,
                              pad_token_id=0)

    best_prefill = best_decode = 0.0
    for run in range(a.repeat + 1):
        ids = torch.randint(0, model.config.vocab_size, (a.batch, a.prompt_len), generator=g)
        with torch.no_grad():
            t0 = time.perf_counter()
            model(ids)
            t1 = time.perf_counter()
            generate(ids, 1)  # prefill + the first token
            t2 = time.perf_counter()
            generate(ids, a.new_tokens)
            t3 = time.perf_counter()
        if run == 0:
            continue  # warm-up
        prefill = a.batch * a.prompt_len / (t1 - t0)
        # The two generate calls differ by exactly N - 1 decode steps.
        decode = a.batch * (a.new_tokens - 1) / ((t3 - t2) - (t2 - t1))
        best_prefill, best_decode = max(best_prefill, prefill), max(best_decode, decode)
    print(f"hf-transformers {a.dtype} threads {a.threads}: batch {a.batch}, prompt "
          f"{a.prompt_len}, new {a.new_tokens}: prefill {best_prefill:.1f} tokens/s, "
          f"decode {best_decode:.1f} tokens/s (best of {a.repeat})", flush=True)


if __name__ == "__main__":
    main()
