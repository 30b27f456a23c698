#!/usr/bin/env python3
"""Write Hugging Face reference outputs for quantc's models to test/data/reference/.

    python3 models/make_reference.py --default models/quantc-tiny-llama \
        --random test/data/models --out test/data/reference

For every model (the default model, name "quantc-tiny-llama", and each folder of
--random) it writes <name>.safetensors with, for each prompt i:

  prompt_ids.<i>           I64 [L]      the prompt's token ids
  prompt_logits_fp32.<i>   F32 [L, V]   logits of one full forward pass, model in float32
  prompt_logits_fp16.<i>   F16 [L, V]   the same with the model in float16
  greedy_fp32.<i>          I64 [32]     the 32 new tokens of generate(do_sample=False,
                                        max_new_tokens=32), model in float32 (no stop at eos)
  greedy_fp16.<i>          I64 [32]     the same in float16

and <name>.json with the prompts (texts for the default model), the settings, the
fp16-vs-fp32 differences and the versions. Settings: GPU, eager attention, TF32 off
(torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False,
float32 matmul precision "highest"), fp16 matmuls with fp32 reduction
(allow_fp16_reduced_precision_reduction = False), batch 1, no attention padding,
generate() with the KV cache (transformers' default DynamicCache).

Prompts: the default model gets 4 English texts (5..60 tokens with its bos); each
random model gets 3 id sequences of lengths 1, 7 and 33 drawn uniformly from the
vocabulary with torch.Generator seed 20240 + k (k = model index in sorted order);
the mistral model also gets a 4th of length 80, longer than its sliding window 64,
so that its logits depend on the window (the JSON records by how much).
"""
import argparse
import json
import os
import platform

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

p = argparse.ArgumentParser()
p.add_argument("--default", default="models/quantc-tiny-llama")
p.add_argument("--random", default="test/data/models")
p.add_argument("--out", default="test/data/reference")
p.add_argument("--only", nargs="*", default=None, help="model names to do (default: all)")
args = p.parse_args()

NEW = 32
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
dev = torch.device("cuda")

DEFAULT_TEXTS = [
    "The GNU General Public License",
    "This program is free software; you can redistribute it and/or modify it "
    "under the terms of the",
    "To list the contents of a directory, use the ls command. By default it "
    "sorts the entries alphabetically and prints",
    "NAME\n    grep - print lines that match patterns\n\nDESCRIPTION\n    grep searches "
    "for PATTERNS in each FILE. PATTERNS is one or more patterns separated by newline "
    "characters, and grep prints each line that matches a pattern. Typically",
]


def load(path, dtype):
    m = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation="eager")
    m = m.to(dev).eval()
    assert m.config._attn_implementation == "eager", m.config._attn_implementation
    assert next(m.parameters()).dtype == dtype
    gc = m.generation_config
    gc.eos_token_id = None          # never stop early: exactly NEW tokens
    gc.pad_token_id = 0
    gc.do_sample = False
    for k in ("temperature", "top_p", "top_k"):
        if hasattr(gc, k):
            setattr(gc, k, None)
    return m


@torch.no_grad()
def forward_logits(m, ids):
    x = torch.tensor([ids], device=dev)
    return m(input_ids=x, use_cache=False).logits[0]


@torch.no_grad()
def greedy(m, ids):
    x = torch.tensor([ids], device=dev)
    out = m.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=NEW,
                     eos_token_id=None, pad_token_id=0)
    new = out[0, len(ids):]
    assert new.numel() == NEW, (out.shape, len(ids))
    return new.cpu()


@torch.no_grad()
def greedy_nocache(m, ids):
    x = torch.tensor([ids], device=dev)
    for _ in range(NEW):
        nxt = m(input_ids=x, use_cache=False).logits[0, -1].argmax()
        x = torch.cat([x, nxt.view(1, 1)], dim=1)
    return x[0, len(ids):].cpu()


def rel_l2(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def do_model(name, path, prompts, texts=None, extra=None):
    tensors, info = {}, {"model": name, "path": path, "prompts": [], "pairs": []}
    m32 = load(path, torch.float32)
    m16 = load(path, torch.float16)
    V = m32.config.vocab_size
    for i, ids in enumerate(prompts):
        l32 = forward_logits(m32, ids).float().cpu()
        l16 = forward_logits(m16, ids).half().cpu()
        g32 = greedy(m32, ids)
        g16 = greedy(m16, ids)
        g32n = greedy_nocache(m32, ids)
        assert l32.shape == (len(ids), V) and torch.isfinite(l32).all() and torch.isfinite(l16).all()
        tensors[f"prompt_ids.{i}"] = torch.tensor(ids, dtype=torch.int64)
        tensors[f"prompt_logits_fp32.{i}"] = l32.contiguous()
        tensors[f"prompt_logits_fp16.{i}"] = l16.contiguous()
        tensors[f"greedy_fp32.{i}"] = g32.to(torch.int64).contiguous()
        tensors[f"greedy_fp16.{i}"] = g16.to(torch.int64).contiguous()
        agree = (l16.float().argmax(-1) == l32.argmax(-1)).float().mean().item()
        top2 = l32.topk(2, dim=-1).values
        same_prefix = int((g16 != g32).nonzero()[0, 0]) if (g16 != g32).any() else NEW
        nocache_prefix = int((g32n != g32).nonzero()[0, 0]) if (g32n != g32).any() else NEW
        pr = {"index": i, "length": len(ids), "ids": ids}
        if texts is not None:
            pr["text"] = texts[i]
        info["prompts"].append(pr)
        pair = {
            "index": i,
            "rel_l2_fp16_vs_fp32": rel_l2(l16, l32),
            "max_abs_diff_fp16_vs_fp32": (l16.float() - l32).abs().max().item(),
            "max_abs_logit_fp32": l32.abs().max().item(),
            "logit_std_fp32": l32.std().item(),
            "argmax_agreement_fp16_vs_fp32": agree,
            "min_top1_top2_gap_fp32": (top2[:, 0] - top2[:, 1]).min().item(),
            "greedy_fp16_matches_fp32_first_n": same_prefix,
            "greedy_fp32_cache_matches_nocache_first_n": nocache_prefix,
        }
        info["pairs"].append(pair)
        print(f"  {name}[{i}] L={len(ids):3d} rel_l2={pair['rel_l2_fp16_vs_fp32']:.2e} "
              f"maxabs={pair['max_abs_diff_fp16_vs_fp32']:.2e} argmax_agree={agree:.3f} "
              f"greedy16==32 first {same_prefix}/{NEW}, cache==nocache first {nocache_prefix}/{NEW}",
              flush=True)
    if extra:
        try:
            extra(m32, info, prompts)
        except Exception as e:  # informational only
            info["extra_error"] = repr(e)
            print(f"  extra check failed: {e!r}", flush=True)
    info["summary"] = {
        "max_rel_l2_fp16_vs_fp32": max(p_["rel_l2_fp16_vs_fp32"] for p_ in info["pairs"]),
        "max_abs_diff_fp16_vs_fp32": max(p_["max_abs_diff_fp16_vs_fp32"] for p_ in info["pairs"]),
    }
    info["vocab_size"] = V
    info["config"] = m32.config.to_dict()
    info["tensors"] = {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)}
                       for k, v in tensors.items()}
    info["settings"] = SETTINGS
    info["versions"] = VERSIONS
    os.makedirs(args.out, exist_ok=True)
    save_file(tensors, os.path.join(args.out, name + ".safetensors"),
              metadata={"model": name, "generator": "models/make_reference.py",
                        "transformers": transformers.__version__, "torch": torch.__version__})
    with open(os.path.join(args.out, name + ".json"), "w") as fh:
        json.dump(info, fh, indent=1, sort_keys=False, default=str)
    del m32, m16
    torch.cuda.empty_cache()


def mistral_extra(m32, info, prompts):
    """Record how much the sliding window changes the logits of the longest prompt."""
    ids = prompts[-1]
    with_win = forward_logits(m32, ids).float()
    saved = m32.config.sliding_window
    m32.config.sliding_window = None
    try:
        no_win = forward_logits(m32, ids).float()
    finally:
        m32.config.sliding_window = saved
    diff = (with_win - no_win).abs().max(dim=-1).values
    first = int((diff > 0).nonzero()[0, 0]) if (diff > 0).any() else None
    info["sliding_window_check"] = {
        "prompt_index": len(prompts) - 1, "sliding_window": saved,
        "max_abs_logit_change_without_window": diff.max().item(),
        "first_position_that_changes": first,
        "note": "HF semantics: query position i attends key positions j with i - sliding_window < j <= i",
    }
    print(f"  mistral sliding-window check: {info['sliding_window_check']}", flush=True)


SETTINGS = {
    "device": torch.cuda.get_device_name(0),
    "attn_implementation": "eager",
    "tf32": False,
    "float32_matmul_precision": "highest",
    "fp16_reduced_precision_reduction": False,
    "batch": 1,
    "logits": "model(input_ids=prompt, use_cache=False).logits[0] (all positions)",
    "generation": {"method": "generate", "do_sample": False, "max_new_tokens": NEW,
                   "eos_token_id": None, "stored": "only the new tokens", "kv_cache": "DynamicCache"},
    "fp32_weights": "float16 checkpoint upcast exactly to float32",
}
VERSIONS = {"python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "transformers": transformers.__version__}
try:
    import tokenizers
    VERSIONS["tokenizers"] = tokenizers.__version__
except ImportError:
    pass
try:
    import safetensors
    VERSIONS["safetensors"] = safetensors.__version__
except ImportError:
    pass


def want(name):
    return args.only is None or name in args.only


failures = []
os.makedirs(args.out, exist_ok=True)
if want("quantc-tiny-llama") and os.path.isdir(args.default):
    try:
        tok = AutoTokenizer.from_pretrained(args.default)
        texts, prompts = [], []
        for t in DEFAULT_TEXTS:
            ids = tok(t)["input_ids"]
            words = t.split(" ")
            while len(ids) > 60:          # keep within 60 tokens, cutting whole words
                words = words[:-1]
                t = " ".join(words)
                ids = tok(t)["input_ids"]
            assert len(ids) >= 5, (t, ids)
            texts.append(t)
            prompts.append(list(ids))
        print("quantc-tiny-llama", [len(p_) for p_ in prompts], flush=True)

        def default_extra(m32, info, prompts_):
            info["tokenizer"] = {
                "bos_prepended": all(p_[0] == tok.bos_token_id for p_ in prompts_),
                "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
                "decoded_greedy_fp32": [], "class": type(tok).__name__}

        do_model("quantc-tiny-llama", args.default, prompts, texts, default_extra)
        # decoded continuations, for people reading the JSON
        jp = os.path.join(args.out, "quantc-tiny-llama.json")
        info = json.load(open(jp))
        from safetensors.torch import load_file
        t_ = load_file(os.path.join(args.out, "quantc-tiny-llama.safetensors"))
        info["tokenizer"]["decoded_greedy_fp32"] = [
            tok.decode(t_[f"greedy_fp32.{i}"].tolist()) for i in range(len(prompts))]
        json.dump(info, open(jp, "w"), indent=1, default=str)
    except Exception as e:  # keep going with the random models
        import traceback
        traceback.print_exc()
        failures.append(("quantc-tiny-llama", repr(e)))

if os.path.isdir(args.random):
    names = sorted(d for d in os.listdir(args.random)
                   if os.path.isfile(os.path.join(args.random, d, "config.json")))
    for k, name in enumerate(names):
        if not want(name):
            continue
        try:
            cfg = json.load(open(os.path.join(args.random, name, "config.json")))
            V = cfg["vocab_size"]
            g = torch.Generator().manual_seed(20240 + k)
            lengths = [1, 7, 33] + ([80] if name == "mistral" else [])
            prompts = [torch.randint(0, V, (L,), generator=g).tolist() for L in lengths]
            print(name, lengths, flush=True)
            do_model(name, os.path.join(args.random, name), prompts, None,
                     mistral_extra if name == "mistral" else None)
        except Exception as e:
            import traceback
            traceback.print_exc()
            failures.append((name, repr(e)))

sizes = {f: os.path.getsize(os.path.join(args.out, f)) for f in sorted(os.listdir(args.out))}
print("reference files:", sizes, "total", sum(sizes.values()), flush=True)
if failures:
    print("FAILURES:", failures, flush=True)
    raise SystemExit(1)
