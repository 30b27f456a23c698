#!/usr/bin/env python3
"""Make quantc's tiny random-weight test models in test/data/models/.

    python3 models/make_random_models.py --out test/data/models

Each model is built from its config with a fixed seed, initialised by transformers'
default init (normal, std initializer_range = 0.02, biases 0, norm weights 1), then
RESCALED so that it computes something non-trivial (with std 0.02 and hidden 64 the
logits would all be ~0 and greedy argmax would hinge on rounding noise):

  * every nn.Linear weight is multiplied by (1/sqrt(fan_in)) / 0.02, so its std
    becomes 1/sqrt(fan_in) (activations keep unit scale through each layer);
    lm_head (when untied) is multiplied by a further 2 (std 2/sqrt(hidden));
  * the token embedding is multiplied by 1/0.02 = 50 (std 1; 0.5 for the tied qwen2,
    whose embedding is also its lm_head, std 0.5 -> logits of std ~4);
  * every RMSNorm weight is drawn from U(0.5, 1.5) (so a missing norm scale shows);
  * the q/k/v biases of qwen2 (zero after the default init) are drawn from N(0, 0.5^2).

The draws use a torch.Generator seeded per model, so reruns give identical weights
(on the same torch version). Weights are saved in float16 with save_pretrained
(safetensors). No tokenizer: the models run on token ids. The config and recipe of
each model is also written to test/data/models/MODELS.md.
"""
import argparse
import inspect
import json
import math
import os
import shutil

import torch
import transformers
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM)

p = argparse.ArgumentParser()
p.add_argument("--out", default="test/data/models")
args = p.parse_args()

V5 = int(transformers.__version__.split(".")[0]) >= 5


def rope(theta, **scaling):
    """rope kwargs for the installed transformers (v5: rope_parameters)."""
    if V5:
        d = {"rope_type": scaling.pop("rope_type", "default"), "rope_theta": float(theta)}
        d.update(scaling)
        return {"rope_parameters": d}
    kw = {"rope_theta": float(theta)}
    if scaling:
        kw["rope_scaling"] = scaling
    return kw


COMMON = dict(vocab_size=512, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
              hidden_act="silu", initializer_range=0.02, max_position_embeddings=256,
              attention_dropout=0.0, use_cache=True)

SPECS = [
    dict(name="llama-gqa", seed=1001, cls=LlamaForCausalLM, cfg_cls=LlamaConfig,
         cfg=dict(COMMON, intermediate_size=160, num_key_value_heads=2, tie_word_embeddings=False,
                  attention_bias=False, mlp_bias=False, rms_norm_eps=1e-5, bos_token_id=1,
                  eos_token_id=2, **rope(10000.0)),
         emb_std=1.0, shard=None,
         note="Llama, GQA 4 query / 2 kv heads (head_dim 16), untied lm_head, default rope."),
    dict(name="llama-sharded", seed=1002, cls=LlamaForCausalLM, cfg_cls=LlamaConfig,
         cfg=dict(COMMON, intermediate_size=160, num_key_value_heads=2, head_dim=24,
                  tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
                  rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, max_position_embeddings=512,
                  **rope(10000.0, rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                         high_freq_factor=4.0, original_max_position_embeddings=64)),
         emb_std=1.0, shard="100KB",
         note="Llama with explicit head_dim 24 (!= hidden/heads = 16; q_proj 64->96, k/v 64->48), "
              "llama3 rope scaling (factor 8, low 1, high 4, original max 64; with theta 1e4 and "
              "head_dim 24 its 12 frequencies fall in all three llama3 bands), saved in shards of "
              "<= 100 KB (model.safetensors.index.json + model-0000k-of-0000n.safetensors)."),
    dict(name="mistral", seed=1003, cls=MistralForCausalLM, cfg_cls=MistralConfig,
         cfg=dict(COMMON, intermediate_size=160, num_key_value_heads=1, sliding_window=64,
                  tie_word_embeddings=False, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2,
                  **rope(10000.0)),
         emb_std=1.0, shard=None,
         note="Mistral, multi-query (1 kv head), sliding_window 64 (HF semantics: query i "
              "attends keys j with i - 64 < j <= i)."),
    dict(name="qwen2", seed=1004, cls=Qwen2ForCausalLM, cfg_cls=Qwen2Config,
         cfg=dict(COMMON, intermediate_size=192, num_key_value_heads=2, tie_word_embeddings=True,
                  use_sliding_window=False, rms_norm_eps=1e-6, bos_token_id=None,
                  eos_token_id=None, **rope(1000000.0)),
         emb_std=0.5, shard=None,
         note="Qwen2, GQA 4/2, q/k/v biases (non-zero), tied embeddings (no lm_head.weight in "
              "the checkpoint), rope_theta 1e6, intermediate 192."),
]


@torch.no_grad()
def rescale(model, spec, gen):
    init = model.config.initializer_range
    tied = model.config.tie_word_embeddings
    emb = model.get_input_embeddings()
    head = model.get_output_embeddings()
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and mod is not head:
            fan_in = mod.weight.shape[1]
            mod.weight.mul_((1.0 / math.sqrt(fan_in)) / init)
            if mod.bias is not None:
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.5)
        elif type(mod).__name__.endswith("RMSNorm"):
            mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) + 0.5)
    emb.weight.mul_(spec["emb_std"] / init)
    if not tied:
        fan_in = head.weight.shape[1]
        head.weight.mul_((2.0 / math.sqrt(fan_in)) / init)
    else:
        assert head.weight.data_ptr() == emb.weight.data_ptr(), "expected tied lm_head"


os.makedirs(args.out, exist_ok=True)
md = ["# Random test models\n",
      "Made by `models/make_random_models.py` (see its docstring and models/README.md); do not "
      "edit by hand. Weights: transformers' default init, then rescaled: nn.Linear weights to std "
      "1/sqrt(fan_in), untied lm_head to 2/sqrt(hidden), embeddings to std 1 (0.5 when tied), "
      "RMSNorm weights U(0.5, 1.5), qwen2 q/k/v biases N(0, 0.5^2). Saved in float16.\n",
      f"transformers {transformers.__version__}, torch {torch.__version__}.\n"]
for spec in SPECS:
    out = os.path.join(args.out, spec["name"])
    if os.path.isdir(out):
        shutil.rmtree(out)
    torch.manual_seed(spec["seed"])
    config = spec["cfg_cls"](**spec["cfg"])
    model = spec["cls"](config).eval()
    gen = torch.Generator().manual_seed(spec["seed"])
    rescale(model, spec, gen)
    if spec["name"] == "qwen2":
        assert all(m.bias is not None and m.bias.abs().sum() > 0
                   for l in model.model.layers for m in (l.self_attn.q_proj, l.self_attn.k_proj,
                                                           l.self_attn.v_proj))
    # quick sanity: logits spread
    with torch.no_grad():
        ids = torch.randint(0, config.vocab_size, (1, 16), generator=gen)
        lg = model(input_ids=ids).logits[0]
    std = lg.std().item()
    model = model.to(torch.float16)
    kw = {}
    sig = inspect.signature(model.save_pretrained).parameters
    if "safe_serialization" in sig:
        kw["safe_serialization"] = True
    if spec["shard"]:
        kw["max_shard_size"] = spec["shard"]
    model.save_pretrained(out, **kw)
    files = sorted(os.listdir(out))
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in files}
    total = sum(sizes.values())
    n_params = sum(p_.numel() for p_ in model.parameters())
    print(f"{spec['name']}: {n_params} params, logits std {std:.2f}, {total} bytes: {sizes}", flush=True)
    assert total < 1 << 20, total
    if spec["shard"]:
        assert "model.safetensors.index.json" in files and \
            sum(f.startswith("model-") for f in files) >= 2, files
    cfg = json.load(open(os.path.join(out, "config.json")))
    md.append(f"\n## {spec['name']}\n\n{spec['note']}\n\n- class {spec['cls'].__name__}, seed "
              f"{spec['seed']}, {n_params} parameters, fp32 logits std on random ids {std:.2f}\n"
              f"- files: " + ", ".join(f"{f} ({s} B)" for f, s in sizes.items()) + "\n\n"
              f"```json\n{json.dumps(cfg, indent=1, sort_keys=True)}\n```\n")
with open(os.path.join(args.out, "MODELS.md"), "w") as fh:
    fh.write("".join(md))
print("done", flush=True)
