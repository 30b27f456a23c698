#!/usr/bin/env python3
"""HF transformers references for LLM.int8 and W8A8 packages.

Runs the float model in float32 with every decoder linear layer replaced by a
torch simulation of the scheme's arithmetic, written from bitsandbytes'
MatMul8bitLt (LLM.int8) and the usual W8A8 recipe, on the int8 weights and
scales stored in a quantc package (so the weight quantization is shared and
only the run-time arithmetic is under test):

  LLM.int8: outlier columns = any |x| >= threshold; row absmax over the
    other elements; q = clamp(roundeven(x * ((1/absmax) * 127)), +-127) with
    outlier columns zeroed; acc = q @ CB^T (exact integers);
    y = fp16((acc * (absmax * SCB)) * 6.200124e-05 + bias);
    y = fp16(y + x[:, outliers] @ fp16(CB[:, outliers] * SCB * (1/127))^T).
  W8A8: s = absmax / 127 per token; q = clamp(roundeven(x / s), +-127);
    y = (q @ W^T) * (s * w_scale).

Writes, per prompt N of SOURCE_REF: prompt_ids.N, prompt_logits_fp32.N, the
32 greedy tokens greedy_fp32.N and decode_logits_fp32.N, the logits of the
steps that chose tokens 1..31 (quant-run --logits-out's decode_logits).

usage: int8_activation_reference.py OUT MODEL PACKAGE MODE THRESHOLD SOURCE_REF
(scripts/device/make_int8_references.sh runs it for every test/data/reference/int8 file)
"""
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False


class SimulatedLinear(torch.nn.Module):
    def __init__(self, q, scale, bias, mode, threshold):
        super().__init__()
        self.q = q.to(torch.float64)      # exact integers
        self.scale = scale.float()
        self.bias = bias
        self.mode, self.threshold = mode, threshold

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1]).float()
        if self.mode == "w8a8":
            s = x.abs().amax(dim=1) / 127.0
            q = torch.where(s[:, None] != 0, (x / s[:, None]).round().clamp(-127, 127), 0.0)
            acc = q.double() @ self.q.T
            y = acc.float() * (s[:, None] * self.scale[None, :])
        else:
            t = self.threshold
            outlier_elem = (x.abs() >= t) if t > 0 else torch.zeros_like(x, dtype=torch.bool)
            cols = outlier_elem.any(dim=0)
            absmax = torch.where(outlier_elem, 0.0, x.abs()).amax(dim=1)
            factor = (1.0 / absmax) * 127.0
            q = (x * factor[:, None]).round().clamp(-127, 127)
            q = torch.where((absmax[:, None] != 0) & ~cols[None, :], q, 0.0)
            acc = q.double() @ self.q.T
            y = (acc.float() * (absmax[:, None] * self.scale[None, :])) * 6.200124e-05
            if self.bias is not None:
                y = y + self.bias.float()
            y = y.half().float()
            if cols.any():
                w = ((self.q[:, cols].float() * self.scale[:, None]) * 7.874015718698502e-3).half()
                extra = x[:, cols].double() @ w.double().T
                y = (y.double() + extra).float().half().float()
            return y.reshape(*shape[:-1], -1)
        if self.bias is not None:
            y = y + self.bias.float()
        return y.reshape(*shape[:-1], -1)


def unstack(packed, model):
    """Splits the package's fused weights ("a.qweight+b.qweight", rows of a
    then of b, as qc-fuse stacks q/k/v and gate/up) back into the layers'."""
    out = {}
    for key, tensor in packed.items():
        names = key.split("+")
        if len(names) == 1:
            out[key] = tensor
            continue
        rows = [model.get_submodule(n.rsplit(".", 1)[0]).out_features for n in names]
        out.update(zip(names, tensor.split(rows)))
    return out


def main():
    out, model_dir, package, mode, threshold, source = sys.argv[1:7]
    threshold = float(threshold)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager").cuda().eval()
    packed = unstack(load_file(f"{package}/weights.safetensors"), model)
    for name, module in list(model.named_modules()):
        if not isinstance(module, torch.nn.Linear) or name == "lm_head":
            continue
        sim = SimulatedLinear(packed[f"{name}.qweight"].cuda(), packed[f"{name}.scales"].cuda(),
                              module.bias, mode, threshold)
        parent = model.get_submodule(name.rsplit(".", 1)[0])
        setattr(parent, name.rsplit(".", 1)[1], sim)
    ref = load_file(source)
    result, i = {}, 0
    while f"prompt_ids.{i}" in ref:
        ids = ref[f"prompt_ids.{i}"].cuda()[None]
        with torch.no_grad():
            logits = model(ids).logits[0].float().cpu()
            gen = model.generate(ids, do_sample=False, max_new_tokens=32, min_new_tokens=32,
                                 eos_token_id=None, pad_token_id=0, output_logits=True,
                                 return_dict_in_generate=True)
        result[f"prompt_ids.{i}"] = ref[f"prompt_ids.{i}"]
        result[f"prompt_logits_fp32.{i}"] = logits.contiguous()
        result[f"greedy_fp32.{i}"] = gen.sequences[0, ids.shape[1]:].cpu().contiguous()
        result[f"decode_logits_fp32.{i}"] = torch.cat(gen.logits[1:]).float().cpu().contiguous()
        i += 1
    save_file(result, out, metadata={"mode": mode, "threshold": str(threshold)})
    print(out, "prompts", i, flush=True)


if __name__ == "__main__":
    main()
