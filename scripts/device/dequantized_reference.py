#!/usr/bin/env python3
"""HF transformers references for quantized packages.

For each checkpoint written by `quant-compile MODEL --dtype=f32 --quant=...
--export-dequantized DIR` (a float model whose linear weights are the
quantization library's dequantized weights), runs transformers in float32
(eager attention, TF32 off) on the prompts of the source model's reference
file and writes test/data/reference/dequantized/<name>.safetensors with
prompt_ids.<i>, prompt_logits_fp32.<i> and greedy_fp32.<i> (32 tokens).

usage (on the device): python3 scripts/device/dequantized_reference.py OUT_DIR NAME=EXPORT_DIR:SOURCE_REFERENCE ...
"""
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def main():
    out_dir, specs = sys.argv[1], sys.argv[2:]
    for spec in specs:
        name, rest = spec.split("=", 1)
        export, source = rest.split(":", 1)
        model = AutoModelForCausalLM.from_pretrained(
            export, dtype=torch.float32, attn_implementation="eager").cuda().eval()
        ref = load_file(source)
        out = {}
        i = 0
        while f"prompt_ids.{i}" in ref:
            ids = ref[f"prompt_ids.{i}"].cuda()[None]
            with torch.no_grad():
                logits = model(ids).logits[0].float().cpu()
                gen = model.generate(ids, do_sample=False, max_new_tokens=32,
                                     min_new_tokens=32, eos_token_id=None,
                                     pad_token_id=0)
            out[f"prompt_ids.{i}"] = ref[f"prompt_ids.{i}"]
            out[f"prompt_logits_fp32.{i}"] = logits.contiguous()
            out[f"greedy_fp32.{i}"] = gen[0, ids.shape[1]:].cpu().contiguous()
            i += 1
        save_file(out, f"{out_dir}/{name}.safetensors",
                  metadata={"source": export, "torch": torch.__version__})
        print(name, "prompts", i, flush=True)


if __name__ == "__main__":
    main()
