#!/usr/bin/env python3
"""The peer of quantc's GPU decode benchmark: HF transformers `generate` on
a model of the same shape (random weights, fp16, eager attention, dynamic
KV cache: what `generate` does by default).

Same measurement as `quant-bench decode`: B random prompts of P tokens, then
N greedy tokens; decode tokens/s from the difference of two generate calls.

usage: hf_generate.py SHAPE_MODEL_DIR --batch B --prompt-len P --new-tokens N
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
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args()
    config = AutoConfig.from_pretrained(a.model)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float16).eval()
    g = torch.Generator(device="cuda").manual_seed(1234)

    def generate(ids, new):
        out = model.generate(ids, do_sample=False, max_new_tokens=new,
                             min_new_tokens=new, eos_token_id=None, pad_token_id=0)
        torch.cuda.synchronize()
        return out

    best = 0.0
    for run in range(a.repeat + 1):
        ids = torch.randint(0, config.vocab_size, (a.batch, a.prompt_len),
                            generator=g, device="cuda")
        with torch.no_grad():
            t0 = time.perf_counter()
            generate(ids, 1)
            t1 = time.perf_counter()
            generate(ids, a.new_tokens)
            t2 = time.perf_counter()
        if run:
            best = max(best, a.batch * (a.new_tokens - 1) / ((t2 - t1) - (t1 - t0)))
    print(f"hf-transformers generate fp16 cuda: batch {a.batch}, prompt {a.prompt_len}, "
          f"new {a.new_tokens}: decode {best:.1f} tokens/s (best of {a.repeat})", flush=True)


if __name__ == "__main__":
    main()
